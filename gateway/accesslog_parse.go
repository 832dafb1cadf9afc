package gateway

import (
	"fmt"
	"net/textproto"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/envoyfmt"
)

// Envoy substitution format strings: binding envoyfmt's segments to entry
// fields.

// parseAccessLogFormat parses an Envoy format string into segments, each a
// literal followed by at most one operator; a trailing literal gets its own
// segment. text: TEXT encoding (tracks "..." to know where a space is safe).
func parseAccessLogFormat(format string, text bool) ([]alSeg, error) {
	parsed, err := envoyfmt.Parse(format)
	if err != nil {
		return nil, fmt.Errorf("accessLogFormat: %w", err)
	}
	segs := make([]alSeg, 0, len(parsed))
	quotes := 0
	for _, p := range parsed {
		quotes += strings.Count(p.Lit, `"`)
		if p.Op == "" {
			segs = append(segs, alSeg{lit: p.Lit})
			continue
		}
		seg, err := alOperator(p)
		if err != nil {
			return nil, err
		}
		// TEXT: a space is escaped outside "..." (it would split the field)
		// and in the path (the quoted request line is space-separated).
		seg.lit, seg.max = p.Lit, p.Max
		seg.escSpace = text && (quotes%2 == 0 || seg.src.op == alPath || seg.alt.op == alPath)
		segs = append(segs, seg)
	}
	return segs, nil
}

// alOperator resolves one command to its source.
func alOperator(p envoyfmt.Segment) (alSeg, error) {
	var s alSeg
	switch name := p.Op; name {
	case "REQ", "RESP", "REQ_WITHOUT_QUERY":
		s.src = alHeader(name != "RESP", p.Header)
		if p.Alt != "" {
			s.alt = alHeader(name != "RESP", p.Alt)
		}
		s.noQuery = name == "REQ_WITHOUT_QUERY"
		return s, nil
	case "START_TIME":
		s.src.op, s.time = alStartTime, p.Time
		return s, nil
	case "GRPC_STATUS":
		s.src = alSrc{op: alGRPCStatus, key: "Grpc-Status"}
		switch p.Arg {
		case "", "CAMEL_STRING":
		case "SNAKE_STRING":
			s.mode = alGRPCSnake
		case "NUMBER":
			s.mode = alGRPCNumber
		default:
			return s, fmt.Errorf("accessLogFormat: %%GRPC_STATUS(%s)%%: want CAMEL_STRING, SNAKE_STRING or NUMBER", p.Arg)
		}
		return s, nil
	}
	op, ok := alSimpleOps[p.Op]
	if !ok {
		return s, fmt.Errorf("accessLogFormat: unknown or unsupported operator %%%s%%; supported: %s", p.Op, alSupported())
	}
	if p.HasArg {
		return s, fmt.Errorf("accessLogFormat: %%%s%% takes no argument", p.Op)
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

// alHeader maps a REQ/RESP header name (checked by envoyfmt) to a fixed
// entry field or a header lookup (canonicalized now so Log needs no
// allocation).
func alHeader(req bool, name string) alSrc {
	lower := strings.ToLower(name)
	if req {
		switch lower {
		case ":method":
			return alSrc{op: alMethod}
		case ":path", "x-envoy-original-path":
			// The entry's Path already prefers x-envoy-original-path; a
			// client-sent x-envoy-original-path header is never trusted.
			return alSrc{op: alPath}
		case ":authority", "host":
			return alSrc{op: alAuthority, key: "Host"}
		case "x-forwarded-for":
			return alSrc{op: alXFF, key: "X-Forwarded-For"}
		case "user-agent":
			return alSrc{op: alUserAgent, key: "User-Agent"}
		case "x-request-id":
			return alSrc{op: alRequestID, key: "X-Request-Id"}
		}
		if lower[0] == ':' {
			return alSrc{op: alNothing} // :scheme, :protocol: not recorded
		}
		return alSrc{op: alReqHeader, key: textproto.CanonicalMIMEHeaderKey(name)}
	}
	switch lower {
	case ":status":
		return alSrc{op: alStatus}
	case "x-envoy-upstream-service-time":
		return alSrc{op: alUpstreamServiceTime, key: "X-Envoy-Upstream-Service-Time"}
	case "grpc-status":
		return alSrc{op: alGRPCStatusRaw, key: "Grpc-Status"}
	}
	if lower[0] == ':' {
		return alSrc{op: alNothing}
	}
	return alSrc{op: alRespHeader, key: textproto.CanonicalMIMEHeaderKey(name)}
}
