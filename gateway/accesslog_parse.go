package gateway

import (
	"fmt"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
)

// Envoy substitution format strings: parsing and operator resolution.

// parseAccessLogFormat splits an Envoy format string into segments, each a
// literal followed by at most one operator; a trailing literal gets its own
// segment. text: TEXT encoding (tracks "..." to know where a space is safe).
// Grammar as Envoy: %COMMAND(ARG):N%, COMMAND [A-Z0-9_]+, "%%" is a literal %.
func parseAccessLogFormat(format string, text bool) ([]alSeg, error) {
	var segs []alSeg
	var lit strings.Builder
	quotes := 0
	for i := 0; i < len(format); {
		c := format[i]
		if c != '%' {
			if c == '"' {
				quotes++
			}
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		j := i + 1
		for j < len(format) && (format[j] >= 'A' && format[j] <= 'Z' || format[j] >= '0' && format[j] <= '9' || format[j] == '_') {
			j++
		}
		name, arg, hasArg := format[i+1:j], "", false
		if name == "" {
			return nil, fmt.Errorf("accessLogFormat: invalid operator at offset %d of %q: want %%COMMAND%%, %%COMMAND(arg)%% or %%COMMAND(arg):N%% (write %%%% for a literal %%)", i, format)
		}
		if j < len(format) && format[j] == '(' {
			k := alArgEnd(format, j+1)
			if k < 0 {
				return nil, fmt.Errorf("accessLogFormat: %%%s( at offset %d has no closing \")%%\"", name, i)
			}
			arg, hasArg, j = format[j+1:k], true, k+1
		}
		maxLen := 0
		if j < len(format) && format[j] == ':' {
			k := j + 1
			for k < len(format) && format[k] >= '0' && format[k] <= '9' {
				k++
			}
			n, err := strconv.Atoi(format[j+1 : k])
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("accessLogFormat: %%%s: length after ':' must be a positive integer, at offset %d", name, j)
			}
			maxLen, j = n, k
		}
		if j >= len(format) || format[j] != '%' {
			return nil, fmt.Errorf("accessLogFormat: operator %%%s at offset %d is not terminated by %%", name, i)
		}
		seg, err := alOperator(name, arg, hasArg)
		if err != nil {
			return nil, err
		}
		// TEXT: a space is escaped outside "..." (it would split the field)
		// and in the path (the quoted request line is space-separated).
		seg.lit, seg.max = lit.String(), maxLen
		seg.escSpace = text && (quotes%2 == 0 || seg.src.op == alPath || seg.alt.op == alPath)
		lit.Reset()
		segs = append(segs, seg)
		i = j + 1
	}
	if lit.Len() > 0 || len(segs) == 0 {
		segs = append(segs, alSeg{lit: lit.String()})
	}
	return segs, nil
}

// alArgEnd finds the ')' closing an argument: the first one followed by '%'
// or by ':digits%' (Envoy's non-greedy "\((.*?)\)(?::[0-9]+)?%").
func alArgEnd(s string, from int) int {
	for k := from; k < len(s); k++ {
		if s[k] == '\n' {
			return -1
		}
		if s[k] != ')' {
			continue
		}
		n := k + 1
		if n < len(s) && s[n] == ':' {
			n++
			for n < len(s) && s[n] >= '0' && s[n] <= '9' {
				n++
			}
		}
		if n < len(s) && s[n] == '%' {
			return k
		}
	}
	return -1
}

// alOperator resolves one command to its source.
func alOperator(name, arg string, hasArg bool) (alSeg, error) {
	var s alSeg
	switch name {
	case "REQ", "RESP", "REQ_WITHOUT_QUERY":
		if !hasArg || arg == "" {
			return s, fmt.Errorf("accessLogFormat: %%%s%% needs a header name, e.g. %%%s(X-REQUEST-ID)%%", name, name)
		}
		main, alt, two := strings.Cut(arg, "?")
		if strings.Contains(alt, "?") {
			return s, fmt.Errorf("accessLogFormat: %%%s(%s)%%: more than one alternative header", name, arg)
		}
		var err error
		if s.src, err = alHeader(name != "RESP", main); err != nil {
			return s, err
		}
		if two {
			if s.alt, err = alHeader(name != "RESP", alt); err != nil {
				return s, err
			}
		}
		s.noQuery = name == "REQ_WITHOUT_QUERY"
		return s, nil
	case "START_TIME":
		s.src.op = alStartTime
		if hasArg && arg != "" {
			tt, err := alCompileTime(arg)
			if err != nil {
				return s, err
			}
			s.time = tt
		}
		return s, nil
	case "GRPC_STATUS":
		s.src = alSrc{op: alGRPCStatus, key: "Grpc-Status"}
		switch arg {
		case "", "CAMEL_STRING":
		case "SNAKE_STRING":
			s.mode = alGRPCSnake
		case "NUMBER":
			s.mode = alGRPCNumber
		default:
			return s, fmt.Errorf("accessLogFormat: %%GRPC_STATUS(%s)%%: want CAMEL_STRING, SNAKE_STRING or NUMBER", arg)
		}
		return s, nil
	}
	op, ok := alSimpleOps[name]
	if !ok {
		return s, fmt.Errorf("accessLogFormat: unknown or unsupported operator %%%s%%; supported: %s", name, alSupported())
	}
	if hasArg {
		return s, fmt.Errorf("accessLogFormat: %%%s%% takes no argument", name)
	}
	s.src.op, s.mode = op.op, op.mode
	return s, nil
}

func alSupported() string {
	names := []string{"REQ(X?Y):N", "RESP(X?Y):N", "REQ_WITHOUT_QUERY(X?Y):N", "START_TIME(fmt)", "GRPC_STATUS(form)"}
	for k := range alSimpleOps {
		names = append(names, k)
	}
	slices.Sort(names[5:])
	return strings.Join(names, ", ")
}

type alSimpleOp struct {
	op   alOp
	mode uint8
}

var alSimpleOps = map[string]alSimpleOp{
	"PROTOCOL":                               {op: alProtocol},
	"RESPONSE_CODE":                          {op: alCode},
	"RESPONSE_FLAGS":                         {op: alFlags},
	"RESPONSE_CODE_DETAILS":                  {op: alDetails},
	"CONNECTION_TERMINATION_DETAILS":         {op: alTermination},
	"UPSTREAM_TRANSPORT_FAILURE_REASON":      {op: alTransportFailure},
	"BYTES_RECEIVED":                         {op: alBytesReceived},
	"BYTES_SENT":                             {op: alBytesSent},
	"DURATION":                               {op: alDuration},
	"REQUEST_DURATION":                       {op: alRequestDuration},
	"RESPONSE_DURATION":                      {op: alResponseDuration},
	"UPSTREAM_HOST":                          {op: alUpstreamHost},
	"UPSTREAM_REMOTE_ADDRESS":                {op: alUpstreamHost},
	"UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT":   {op: alUpstreamHost, mode: alAddrHost},
	"UPSTREAM_REMOTE_PORT":                   {op: alUpstreamHost, mode: alAddrPort},
	"UPSTREAM_CLUSTER":                       {op: alUpstreamCluster},
	"UPSTREAM_CLUSTER_RAW":                   {op: alUpstreamCluster},
	"UPSTREAM_LOCAL_ADDRESS":                 {op: alUpstreamLocal},
	"UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":    {op: alUpstreamLocal, mode: alAddrHost},
	"UPSTREAM_LOCAL_PORT":                    {op: alUpstreamLocal, mode: alAddrPort},
	"DOWNSTREAM_LOCAL_ADDRESS":               {op: alDownstreamLocal},
	"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":  {op: alDownstreamLocal, mode: alAddrHost},
	"DOWNSTREAM_LOCAL_PORT":                  {op: alDownstreamLocal, mode: alAddrPort},
	"DOWNSTREAM_REMOTE_ADDRESS":              {op: alDownstreamRemote},
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": {op: alDownstreamRemote, mode: alAddrHost},
	"DOWNSTREAM_REMOTE_PORT":                 {op: alDownstreamRemote, mode: alAddrPort},
	"REQUESTED_SERVER_NAME":                  {op: alSNI},
	"ROUTE_NAME":                             {op: alRouteName},
	"HOSTNAME":                               {op: alHostname},
	"AUTHZ_POLICY":                           {op: alPolicy}, // gatehouse: the AuthorizationPolicy that denied
}

// alHeader maps a REQ/RESP header name to a fixed entry field or a header
// lookup (canonicalized now so Log needs no allocation).
func alHeader(req bool, name string) (alSrc, error) {
	if name == "" || !valid(strings.TrimPrefix(name, ":"), tokenByte) {
		return alSrc{}, fmt.Errorf("accessLogFormat: invalid header name %q", name)
	}
	lower := strings.ToLower(name)
	if req {
		switch lower {
		case ":method":
			return alSrc{op: alMethod}, nil
		case ":path", "x-envoy-original-path":
			// The entry's Path already prefers x-envoy-original-path; a
			// client-sent x-envoy-original-path header is never trusted.
			return alSrc{op: alPath}, nil
		case ":authority", "host":
			return alSrc{op: alAuthority, key: "Host"}, nil
		case "x-forwarded-for":
			return alSrc{op: alXFF, key: "X-Forwarded-For"}, nil
		case "user-agent":
			return alSrc{op: alUserAgent, key: "User-Agent"}, nil
		case "x-request-id":
			return alSrc{op: alRequestID, key: "X-Request-Id"}, nil
		}
		if lower[0] == ':' {
			return alSrc{op: alNothing}, nil // :scheme, :protocol: not recorded
		}
		return alSrc{op: alReqHeader, key: textproto.CanonicalMIMEHeaderKey(name)}, nil
	}
	switch lower {
	case ":status":
		return alSrc{op: alStatus}, nil
	case "x-envoy-upstream-service-time":
		return alSrc{op: alUpstreamServiceTime, key: "X-Envoy-Upstream-Service-Time"}, nil
	case "grpc-status":
		return alSrc{op: alGRPCStatusRaw, key: "Grpc-Status"}, nil
	}
	if lower[0] == ':' {
		return alSrc{op: alNothing}, nil
	}
	return alSrc{op: alRespHeader, key: textproto.CanonicalMIMEHeaderKey(name)}, nil
}
