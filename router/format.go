package router

import (
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
)

// FormatVar names a per-request value that a header formatter inserts.
type FormatVar uint8

// The Envoy command operators gatehouse supports in header values, written
// %NAME% in YAML.
const (
	VarDownstreamRemoteAddress            FormatVar = iota + 1 // client address with port
	VarDownstreamRemoteAddressWithoutPort                      // client address
	VarDownstreamRemotePort                                    // client port
	VarDownstreamLocalAddress                                  // address the request arrived on, with port
	VarDownstreamLocalAddressWithoutPort                       // address the request arrived on
	VarDownstreamLocalPort                                     // port the request arrived on
	VarStartTime                                               // request start, RFC 3339 UTC with milliseconds
	VarProtocol                                                // "HTTP/1.1", "HTTP/2"
	VarUpstreamHost                                            // chosen upstream address, when known
	VarHostname                                                // the gateway's host name
	VarRequestedServerName                                     // TLS SNI
)

var formatVarNames = map[string]FormatVar{
	"DOWNSTREAM_REMOTE_ADDRESS":              VarDownstreamRemoteAddress,
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": VarDownstreamRemoteAddressWithoutPort,
	"DOWNSTREAM_REMOTE_PORT":                 VarDownstreamRemotePort,
	"DOWNSTREAM_LOCAL_ADDRESS":               VarDownstreamLocalAddress,
	"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":  VarDownstreamLocalAddressWithoutPort,
	"DOWNSTREAM_LOCAL_PORT":                  VarDownstreamLocalPort,
	"START_TIME":                             VarStartTime,
	"PROTOCOL":                               VarProtocol,
	"UPSTREAM_HOST":                          VarUpstreamHost,
	"HOSTNAME":                               VarHostname,
	"REQUESTED_SERVER_NAME":                  VarRequestedServerName,
}

// String returns the operator's Envoy name.
func (v FormatVar) String() string {
	for name, x := range formatVarNames {
		if x == v {
			return name
		}
	}
	return "FormatVar(" + strconv.Itoa(int(v)) + ")"
}

// FormatVars supplies the values of header formatters for one request.
// The gateway implements it; formatters see the request as received, not
// as modified by earlier header operations.
type FormatVars interface {
	// RequestHeader returns the first value of a request header, "" when
	// absent. name is in canonical form, or a lower-case pseudo-header
	// (":authority", ":path", ":method", ":scheme").
	RequestHeader(name string) string
	// Var returns the value of an operator, "" when unknown.
	Var(v FormatVar) string
}

type fmtKind uint8

const (
	fmtLit fmtKind = iota
	fmtReq
	fmtVar
)

// fmtPart is one piece of a header value: literal text, %REQ(hdr?alt):max%
// or a variable.
type fmtPart struct {
	kind     fmtKind
	lit      string
	v        FormatVar
	hdr, alt string
	max      int
}

// parseFormat parses an Envoy header value. A value without operators
// comes back as lit (with "%%" turned into "%") and nil parts.
func parseFormat(s string) (lit string, parts []fmtPart, err error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '%':
			b.WriteByte(s[i])
			continue
		case i+1 < len(s) && s[i+1] == '%':
			b.WriteByte('%')
			i++
			continue
		}
		end := operatorEnd(s[i+1:])
		if end < 0 {
			return "", nil, fmt.Errorf("single %% not allowed in %q; write %%%% for a literal %%", s)
		}
		p, err := parseOperator(s[i+1 : i+1+end])
		if err != nil {
			return "", nil, err
		}
		if b.Len() > 0 {
			parts = append(parts, fmtPart{lit: b.String()})
			b.Reset()
		}
		parts = append(parts, p)
		i += end + 1
	}
	if parts == nil {
		return b.String(), nil, nil
	}
	if b.Len() > 0 {
		parts = append(parts, fmtPart{lit: b.String()})
	}
	return "", parts, nil
}

// operatorEnd returns the index of the '%' closing the operator at the
// start of s, skipping a parenthesized argument (which may hold '%', as in
// %START_TIME(%s)%), or -1.
func operatorEnd(s string) int {
	j := 0
	for j < len(s) && (s[j] == '_' || 'A' <= s[j] && s[j] <= 'Z' || '0' <= s[j] && s[j] <= '9') {
		j++
	}
	if j < len(s) && s[j] == '(' {
		c := strings.IndexByte(s[j:], ')')
		if c < 0 {
			return -1
		}
		j += c
	}
	if e := strings.IndexByte(s[j:], '%'); e >= 0 {
		return j + e
	}
	return -1
}

// parseOperator parses NAME, NAME(ARG) or either followed by :MAXLEN.
func parseOperator(tok string) (fmtPart, error) {
	name, arg, hasArg := tok, "", false
	if i := strings.IndexByte(tok, '('); i >= 0 {
		j := strings.LastIndexByte(tok, ')')
		if j < i {
			return fmtPart{}, fmt.Errorf("malformed formatter %%%s%%", tok)
		}
		name, arg, hasArg = tok[:i], tok[i+1:j], true
		tok = name + tok[j+1:]
	}
	p := fmtPart{}
	if base, maxLen, ok := strings.Cut(tok, ":"); ok {
		n, err := strconv.Atoi(maxLen)
		if err != nil || n <= 0 {
			return p, fmt.Errorf("malformed length in formatter %%%s%%", tok)
		}
		name, p.max = base, n
	}
	if name == "REQ" {
		return reqOperator(p, arg)
	}
	v, ok := formatVarNames[name]
	switch {
	case !ok:
		return p, fmt.Errorf("unknown or unsupported formatter %%%s%%", name)
	case hasArg:
		return p, fmt.Errorf("formatter %%%s%% takes no argument (formats such as %%START_TIME(%s)%% are not supported)", name, arg)
	}
	p.kind, p.v = fmtVar, v
	return p, nil
}

func reqOperator(p fmtPart, arg string) (fmtPart, error) {
	hdr, alt, _ := strings.Cut(arg, "?")
	p.kind, p.hdr, p.alt = fmtReq, reqHeaderName(hdr), reqHeaderName(alt)
	if hdr == "" || !validHeaderName(strings.TrimPrefix(hdr, ":")) || (alt != "" && !validHeaderName(strings.TrimPrefix(alt, ":"))) {
		return p, fmt.Errorf("malformed formatter %%REQ(%s)%%", arg)
	}
	return p, nil
}

// reqHeaderName is the name FormatVars.RequestHeader receives.
func reqHeaderName(h string) string {
	switch {
	case h == "":
		return ""
	case strings.EqualFold(h, "host"):
		return ":authority"
	case h[0] == ':':
		return strings.ToLower(h)
	}
	return textproto.CanonicalMIMEHeaderKey(h)
}

// render expands parts for one request. A nil vars yields "" for every
// operator.
func render(parts []fmtPart, vars FormatVars) string {
	if len(parts) == 1 {
		return parts[0].value(vars)
	}
	var b strings.Builder
	for i := range parts {
		b.WriteString(parts[i].value(vars))
	}
	return b.String()
}

func (p *fmtPart) value(vars FormatVars) string {
	var v string
	switch {
	case p.kind == fmtLit:
		return p.lit
	case vars == nil:
		return ""
	case p.kind == fmtReq:
		v = vars.RequestHeader(p.hdr)
		if v == "" && p.alt != "" {
			v = vars.RequestHeader(p.alt)
		}
	default:
		v = vars.Var(p.v)
	}
	if p.max > 0 && len(v) > p.max {
		v = v[:p.max]
	}
	return v
}

// String writes the part back in Envoy syntax, for config dumps.
func (p *fmtPart) String() string {
	var s string
	switch p.kind {
	case fmtLit:
		return strings.ReplaceAll(p.lit, "%", "%%")
	case fmtReq:
		s = "REQ(" + p.hdr
		if p.alt != "" {
			s += "?" + p.alt
		}
		s += ")"
	default:
		s = p.v.String()
	}
	if p.max > 0 {
		s += ":" + strconv.Itoa(p.max)
	}
	return "%" + s + "%"
}
