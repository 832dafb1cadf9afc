package accesslog

import (
	"fmt"
	"net/textproto"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/envoyfmt"
)

// Envoy substitution format strings: binding envoyfmt's segments to entry
// fields.

// parseSegments parses an Envoy format string into segments, each a
// literal followed by at most one operator; a trailing literal gets its own
// segment. text: TEXT encoding (tracks "..." to know where a space is safe).
func parseSegments(format string, text bool) ([]segment, error) {
	parsed, err := envoyfmt.Parse(format)
	if err != nil {
		return nil, fmt.Errorf("accessLogFormat: %w", err)
	}
	segs := make([]segment, 0, len(parsed))
	quotes := 0
	for _, p := range parsed {
		quotes += strings.Count(p.Lit, `"`)
		if p.Op == "" {
			segs = append(segs, segment{lit: p.Lit})
			continue
		}
		seg, err := bindOperator(p)
		if err != nil {
			return nil, err
		}
		// TEXT: a space is escaped outside "..." (it would split the field)
		// and in the path (the quoted request line is space-separated).
		seg.lit, seg.max = p.Lit, p.Max
		seg.escSpace = text && (quotes%2 == 0 || seg.src.op == opPath || seg.alt.op == opPath)
		segs = append(segs, seg)
	}
	return segs, nil
}

// bindOperator resolves one command to its source.
func bindOperator(p envoyfmt.Segment) (segment, error) {
	var s segment
	switch name := p.Op; name {
	case "REQ", "RESP", "REQ_WITHOUT_QUERY":
		s.src = headerSource(name != "RESP", p.Header)
		if p.Alt != "" {
			s.alt = headerSource(name != "RESP", p.Alt)
		}
		s.noQuery = name == "REQ_WITHOUT_QUERY"
		return s, nil
	case "START_TIME":
		s.src.op, s.time = opStartTime, p.Time
		return s, nil
	case "GRPC_STATUS":
		s.src = source{op: opGRPCStatus, key: "Grpc-Status"}
		switch p.Arg {
		case "", "CAMEL_STRING":
		case "SNAKE_STRING":
			s.mode = modeGRPCSnake
		case "NUMBER":
			s.mode = modeGRPCNumber
		default:
			return s, fmt.Errorf("accessLogFormat: %%GRPC_STATUS(%s)%%: want CAMEL_STRING, SNAKE_STRING or NUMBER", p.Arg)
		}
		return s, nil
	}
	op, ok := simpleOps[p.Op]
	if !ok {
		return s, fmt.Errorf("accessLogFormat: unknown or unsupported operator %%%s%%; supported: %s", p.Op, supported())
	}
	if p.HasArg {
		return s, fmt.Errorf("accessLogFormat: %%%s%% takes no argument", p.Op)
	}
	s.src.op, s.mode = op.op, op.mode
	return s, nil
}

func supported() string {
	names := []string{"REQ(X?Y):N", "RESP(X?Y):N", "REQ_WITHOUT_QUERY(X?Y):N", "START_TIME(fmt)", "GRPC_STATUS(form)"}
	for k := range simpleOps {
		names = append(names, k)
	}
	slices.Sort(names[5:])
	return strings.Join(names, ", ")
}

type simpleOp struct {
	op   opcode
	mode uint8
}

var simpleOps = map[string]simpleOp{
	"PROTOCOL":                               {op: opProtocol},
	"RESPONSE_CODE":                          {op: opCode},
	"RESPONSE_FLAGS":                         {op: opFlags},
	"RESPONSE_CODE_DETAILS":                  {op: opDetails},
	"CONNECTION_TERMINATION_DETAILS":         {op: opTermination},
	"UPSTREAM_TRANSPORT_FAILURE_REASON":      {op: opTransportFailure},
	"BYTES_RECEIVED":                         {op: opBytesReceived},
	"BYTES_SENT":                             {op: opBytesSent},
	"DURATION":                               {op: opDuration},
	"REQUEST_DURATION":                       {op: opRequestDuration},
	"RESPONSE_DURATION":                      {op: opResponseDuration},
	"UPSTREAM_HOST":                          {op: opUpstreamHost},
	"UPSTREAM_REMOTE_ADDRESS":                {op: opUpstreamHost},
	"UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT":   {op: opUpstreamHost, mode: modeAddrHost},
	"UPSTREAM_REMOTE_PORT":                   {op: opUpstreamHost, mode: modeAddrPort},
	"UPSTREAM_CLUSTER":                       {op: opUpstreamCluster},
	"UPSTREAM_CLUSTER_RAW":                   {op: opUpstreamCluster},
	"UPSTREAM_LOCAL_ADDRESS":                 {op: opUpstreamLocal},
	"UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":    {op: opUpstreamLocal, mode: modeAddrHost},
	"UPSTREAM_LOCAL_PORT":                    {op: opUpstreamLocal, mode: modeAddrPort},
	"DOWNSTREAM_LOCAL_ADDRESS":               {op: opDownstreamLocal},
	"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":  {op: opDownstreamLocal, mode: modeAddrHost},
	"DOWNSTREAM_LOCAL_PORT":                  {op: opDownstreamLocal, mode: modeAddrPort},
	"DOWNSTREAM_REMOTE_ADDRESS":              {op: opDownstreamRemote},
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": {op: opDownstreamRemote, mode: modeAddrHost},
	"DOWNSTREAM_REMOTE_PORT":                 {op: opDownstreamRemote, mode: modeAddrPort},
	"REQUESTED_SERVER_NAME":                  {op: opSNI},
	"ROUTE_NAME":                             {op: opRouteName},
	"HOSTNAME":                               {op: opHostname},
	"AUTHZ_POLICY":                           {op: opPolicy}, // gatehouse: the AuthorizationPolicy that denied
}

// headerSource maps a REQ/RESP header name (checked by envoyfmt) to a fixed
// entry field or a header lookup (canonicalized now so Log needs no
// allocation).
func headerSource(req bool, name string) source {
	lower := strings.ToLower(name)
	if req {
		switch lower {
		case ":method":
			return source{op: opMethod}
		case ":path", "x-envoy-original-path":
			// The entry's Path already prefers x-envoy-original-path; a
			// client-sent x-envoy-original-path header is never trusted.
			return source{op: opPath}
		case ":authority", "host":
			return source{op: opAuthority, key: "Host"}
		case "x-forwarded-for":
			return source{op: opXFF, key: "X-Forwarded-For"}
		case "user-agent":
			return source{op: opUserAgent, key: "User-Agent"}
		case "x-request-id":
			return source{op: opRequestID, key: "X-Request-Id"}
		}
		if lower[0] == ':' {
			return source{op: opNothing} // :scheme, :protocol: not recorded
		}
		return source{op: opReqHeader, key: textproto.CanonicalMIMEHeaderKey(name)}
	}
	switch lower {
	case ":status":
		return source{op: opStatus}
	case "x-envoy-upstream-service-time":
		return source{op: opUpstreamServiceTime, key: "X-Envoy-Upstream-Service-Time"}
	case "grpc-status":
		return source{op: opGRPCStatusRaw, key: "Grpc-Status"}
	}
	if lower[0] == ':' {
		return source{op: opNothing}
	}
	return source{op: opRespHeader, key: textproto.CanonicalMIMEHeaderKey(name)}
}
