package router

import (
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/envoyfmt"
)

// FormatVar names a per-request value that a header formatter inserts.
type FormatVar uint8

// The Envoy command operators gatehouse supports in header values, written
// %NAME% in YAML, besides %REQ(X?Y)% and %START_TIME%.
const (
	VarDownstreamRemoteAddress            FormatVar = iota + 1 // client address with port
	VarDownstreamRemoteAddressWithoutPort                      // client address
	VarDownstreamRemotePort                                    // client port
	VarDownstreamLocalAddress                                  // address the request arrived on, with port
	VarDownstreamLocalAddressWithoutPort                       // address the request arrived on
	VarDownstreamLocalPort                                     // port the request arrived on
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
	// StartTime is the time %START_TIME% formats.
	StartTime() time.Time
}

type fmtKind uint8

const (
	fmtLit  fmtKind = iota // literal text only
	fmtReq                 // %REQ(hdr?alt)%
	fmtVar                 // a FormatVar
	fmtTime                // %START_TIME(format)%
)

// fmtPart is one piece of a header value: literal text, then at most one
// operator. For %REQ%, seg.Header and seg.Alt hold the names
// FormatVars.RequestHeader receives.
type fmtPart struct {
	seg  envoyfmt.Segment
	kind fmtKind
	v    FormatVar
}

// parseFormat parses an Envoy header value. A value without operators
// comes back as lit (with "%%" turned into "%") and nil parts.
func parseFormat(s string) (lit string, parts []fmtPart, err error) {
	segs, err := envoyfmt.Parse(s)
	if err != nil {
		return "", nil, fmt.Errorf("malformed formatter: %w", err)
	}
	if len(segs) == 1 && segs[0].Op == "" {
		return segs[0].Lit, nil, nil
	}
	parts = make([]fmtPart, len(segs))
	for i, seg := range segs {
		if parts[i], err = bindPart(seg); err != nil {
			return "", nil, err
		}
	}
	return "", parts, nil
}

// bindPart gives a parsed segment its value source.
func bindPart(seg envoyfmt.Segment) (fmtPart, error) {
	p := fmtPart{seg: seg}
	switch seg.Op {
	case "":
	case "REQ":
		p.kind, p.seg.Header, p.seg.Alt = fmtReq, reqHeaderName(seg.Header), reqHeaderName(seg.Alt)
	case "START_TIME":
		p.kind = fmtTime
	default:
		v, ok := formatVarNames[seg.Op]
		switch {
		case !ok:
			return p, fmt.Errorf("unknown or unsupported formatter %%%s%%", seg.Op)
		case seg.HasArg:
			return p, fmt.Errorf("formatter %%%s%% takes no argument", seg.Op)
		}
		p.kind, p.v = fmtVar, v
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
	if len(parts) == 1 && parts[0].seg.Lit == "" {
		return parts[0].value(vars)
	}
	var b strings.Builder
	for i := range parts {
		b.WriteString(parts[i].seg.Lit)
		b.WriteString(parts[i].value(vars))
	}
	return b.String()
}

// value is the operator's value, "" for a literal part.
func (p *fmtPart) value(vars FormatVars) string {
	var v string
	switch {
	case p.kind == fmtLit || vars == nil:
		return ""
	case p.kind == fmtReq:
		v = vars.RequestHeader(p.seg.Header)
		if v == "" && p.seg.Alt != "" {
			v = vars.RequestHeader(p.seg.Alt)
		}
	case p.kind == fmtTime:
		var buf [64]byte
		v = string(p.seg.Time.Append(buf[:0], vars.StartTime()))
	default:
		v = vars.Var(p.v)
	}
	if p.seg.Max > 0 && len(v) > p.seg.Max {
		v = v[:p.seg.Max]
	}
	return v
}

// String writes the part back in Envoy syntax, for config dumps.
func (p *fmtPart) String() string { return p.seg.String() }
