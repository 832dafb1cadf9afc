package gateway

import (
	"os"
	"strconv"
	"strings"
)

// Access-log operator values and their encoding (TEXT and JSON escaping).

type alOp uint8

const (
	alNone    alOp = iota
	alNothing      // a valid operator gatehouse has no data for: always absent
	alStartTime
	alMethod
	alPath
	alProtocol
	alCode
	alStatus // RESP(:status): the code as a header string
	alFlags
	alDetails
	alTermination
	alTransportFailure
	alBytesReceived
	alBytesSent
	alDuration
	alRequestDuration
	alResponseDuration
	alUpstreamServiceTime
	alXFF
	alUserAgent
	alRequestID
	alAuthority
	alUpstreamHost
	alUpstreamCluster
	alUpstreamLocal
	alDownstreamLocal
	alDownstreamRemote
	alSNI
	alRouteName
	alPolicy
	alGRPCStatus    // %GRPC_STATUS%: named
	alGRPCStatusRaw // %RESP(grpc-status)%: as sent
	alHostname
	alReqHeader
	alRespHeader
)

// alSrc is where a value comes from: an entry field, or (op alReqHeader /
// alRespHeader, or a field op as fallback when the field is empty) the
// header key (canonical form).
type alSrc struct {
	op  alOp
	key string
}

// Value kinds.
const (
	alAbsent = iota
	alString
	alNumber // JSON number
	alDigits // an integer that is a header value: a JSON string
	alTime
)

// alSeg.mode values.
const (
	alAddrHost   = 1 // ..._WITHOUT_PORT
	alAddrPort   = 2 // ..._PORT
	alGRPCSnake  = 3
	alGRPCNumber = 4
)

// Output modes.
const (
	alModeText      = iota // absent "-", escaped, unquoted
	alModeJSON             // a whole JSON value: null, number or "string"
	alModeJSONInner        // inside a JSON string: absent "-"
)

// accessLogMaxField caps any one value (attacker-controlled headers can be
// large) before escaping.
const accessLogMaxField = 16 << 10

func accessLogHostname() string {
	h, _ := os.Hostname()
	return h
}

// eval returns a value without allocating: a string (usually a field of e
// or a header value), or an integer.
func (f *alFormat) eval(e *accessEntry, s *alSeg) (kind int, str string, n int64) {
	kind, str, n = f.evalSrc(e, s.src)
	if kind == alAbsent && s.alt.op != alNone {
		kind, str, n = f.evalSrc(e, s.alt)
	}
	if kind != alString {
		return kind, str, n
	}
	switch s.mode {
	case alAddrHost:
		str, _ = alSplitAddr(str)
	case alAddrPort:
		if _, p := alSplitAddr(str); p != "" {
			if v, err := strconv.ParseUint(p, 10, 16); err == nil {
				return alNumber, "", int64(v)
			}
		}
		return alAbsent, "", 0
	}
	if s.noQuery {
		if q := strings.IndexByte(str, '?'); q >= 0 {
			str = str[:q]
		}
	}
	if s.max > 0 && len(str) > s.max {
		str = str[:s.max]
	}
	if len(str) > accessLogMaxField {
		str = str[:accessLogMaxField]
	}
	if str == "" {
		return alAbsent, "", 0
	}
	return alString, str, 0
}

func alStr(s string) (int, string, int64) {
	if s == "" {
		return alAbsent, "", 0
	}
	return alString, s, 0
}

func alHeaderValue(h map[string][]string, key string) (int, string, int64) {
	if v := h[key]; len(v) > 0 {
		return alStr(v[0])
	}
	return alAbsent, "", 0
}

func (f *alFormat) evalSrc(e *accessEntry, src alSrc) (int, string, int64) {
	switch src.op {
	case alStartTime:
		if e.Start.IsZero() {
			return alAbsent, "", 0
		}
		return alTime, "", 0
	case alMethod:
		return alStr(e.Method)
	case alPath:
		return alStr(e.Path)
	case alProtocol:
		return alStr(e.Protocol)
	case alCode:
		return alNumber, "", int64(e.Code)
	case alStatus:
		if e.Code == 0 {
			return alAbsent, "", 0
		}
		return alDigits, "", int64(e.Code)
	case alFlags:
		if e.Flags == "" {
			return alString, "-", 0
		}
		return alString, e.Flags, 0
	case alDetails:
		return alStr(e.Details)
	case alTermination:
		return alStr(e.TerminationDetails)
	case alTransportFailure:
		return alStr(e.TransportFailure)
	case alBytesReceived:
		return alNumber, "", e.BytesReceived
	case alBytesSent:
		return alNumber, "", e.BytesSent
	case alDuration:
		return alNumber, "", e.Duration.Milliseconds()
	case alRequestDuration:
		if e.RequestDuration == 0 {
			return alAbsent, "", 0
		}
		return alNumber, "", e.RequestDuration.Milliseconds()
	case alResponseDuration:
		if e.ResponseDuration == 0 {
			return alAbsent, "", 0
		}
		return alNumber, "", e.ResponseDuration.Milliseconds()
	case alUpstreamServiceTime:
		if e.UpstreamServiceTime >= 0 {
			return alDigits, "", e.UpstreamServiceTime.Milliseconds()
		}
		return alHeaderValue(e.RespHeader, src.key)
	case alXFF:
		return alFieldOrHeader(e.XFF, e.ReqHeader, src.key)
	case alUserAgent:
		return alFieldOrHeader(e.UserAgent, e.ReqHeader, src.key)
	case alRequestID:
		return alFieldOrHeader(e.RequestID, e.ReqHeader, src.key)
	case alAuthority:
		return alStr(e.Authority) // Go moves Host out of the header map
	case alUpstreamHost:
		return alStr(e.UpstreamHost)
	case alUpstreamCluster:
		return alStr(e.UpstreamCluster)
	case alUpstreamLocal:
		return alStr(e.UpstreamLocal)
	case alDownstreamLocal:
		return alStr(e.DownstreamLocal)
	case alDownstreamRemote:
		return alStr(e.DownstreamRemote)
	case alSNI:
		return alStr(e.SNI)
	case alRouteName:
		return alStr(e.RouteName)
	case alPolicy:
		return alStr(e.Policy)
	case alGRPCStatus:
		fallthrough // named in appendValue (needs the mode)
	case alGRPCStatusRaw:
		return alFieldOrHeader(e.GRPCStatus, e.RespHeader, src.key)
	case alHostname:
		return alStr(f.host)
	case alReqHeader:
		return alHeaderValue(e.ReqHeader, src.key)
	case alRespHeader:
		return alHeaderValue(e.RespHeader, src.key)
	}
	return alAbsent, "", 0
}

func alFieldOrHeader(field string, h map[string][]string, key string) (int, string, int64) {
	if field != "" {
		return alString, field, 0
	}
	return alHeaderValue(h, key)
}

// alSplitAddr splits "ip:port" / "[v6]:port" into host (no brackets) and port.
func alSplitAddr(a string) (host, port string) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 || strings.IndexByte(a[:i], ':') >= 0 && !strings.HasPrefix(a, "[") {
		return a, "" // no port, or a bare IPv6 address
	}
	host, port = a[:i], a[i+1:]
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return host, port
}

var alGRPCCamel = [...]string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
	"Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"}

var alGRPCSnakeNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

func (f *alFormat) appendValue(b []byte, e *accessEntry, s *alSeg, mode int) []byte {
	kind, str, n := f.eval(e, s)
	if kind == alString && s.src.op == alGRPCStatus {
		if c, err := strconv.Atoi(str); err == nil && c >= 0 && c < len(alGRPCCamel) {
			switch s.mode {
			case alGRPCNumber:
				kind, n = alNumber, int64(c)
			case alGRPCSnake:
				str = alGRPCSnakeNames[c]
			default:
				str = alGRPCCamel[c]
			}
		}
	}
	switch kind {
	case alAbsent:
		if mode == alModeJSON {
			return append(b, "null"...)
		}
		return append(b, '-')
	case alNumber:
		return strconv.AppendInt(b, n, 10)
	case alDigits:
		if mode == alModeJSON {
			return append(strconv.AppendInt(append(b, '"'), n, 10), '"')
		}
		return strconv.AppendInt(b, n, 10)
	case alTime:
		if mode == alModeJSON {
			b = append(b, '"')
		}
		at := len(b)
		b = s.time.Append(b, e.Start)
		if s.max > 0 && len(b)-at > s.max {
			b = b[:at+s.max]
		}
		if mode != alModeText && !alPlainASCII(b[at:]) {
			// A literal of the START_TIME format (a quote, a backslash,
			// a tab) would break the JSON string; escaped after the
			// truncation, as Envoy serializes the truncated value.
			b = alAppendEscaped(b[:at], string(b[at:]), false)
		}
		if mode == alModeJSON {
			b = append(b, '"')
		}
		return b
	}
	if mode == alModeJSON {
		return append(alAppendEscaped(append(b, '"'), str, false), '"')
	}
	return alAppendEscaped(b, str, mode == alModeText && s.escSpace)
}

// alPlainASCII reports whether b needs no JSON escaping.
func alPlainASCII(b []byte) bool {
	for _, c := range b {
		if !alSafe[c] {
			return false
		}
	}
	return true
}
