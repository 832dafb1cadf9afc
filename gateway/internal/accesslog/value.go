package accesslog

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Access-log operator values: where each comes from in an Entry.

type opcode uint8

const (
	opNone    opcode = iota
	opNothing        // a valid operator gatehouse has no data for: always absent
	opStartTime
	opMethod
	opPath
	opProtocol
	opCode
	opStatus // RESP(:status): the code as a header string
	opFlags
	opDetails
	opTermination
	opTransportFailure
	opBytesReceived
	opBytesSent
	opDuration
	opRequestDuration
	opResponseDuration
	opUpstreamServiceTime
	opXFF
	opUserAgent
	opRequestID
	opAuthority
	opUpstreamHost
	opUpstreamCluster
	opUpstreamLocal
	opDownstreamLocal
	opDownstreamRemote
	opSNI
	opRouteName
	opPolicy
	opGRPCStatus    // %GRPC_STATUS%: named
	opGRPCStatusRaw // %RESP(grpc-status)%: as sent
	opHostname
	opReqHeader
	opRespHeader
)

// source is where a value comes from: an entry field, or (op opReqHeader /
// opRespHeader, or a field op as fallback when the field is empty) the
// header key (canonical form).
type source struct {
	op  opcode
	key string
}

// Value kinds.
const (
	kindAbsent = iota
	kindString
	kindNumber // JSON number
	kindDigits // an integer that is a header value: a JSON string
	kindTime
)

// segment.mode values.
const (
	modeAddrHost   = 1 // ..._WITHOUT_PORT
	modeAddrPort   = 2 // ..._PORT
	modeGRPCSnake  = 3
	modeGRPCNumber = 4
)

// Output modes.
const (
	outText      = iota // absent "-", escaped, unquoted
	outJSON             // a whole JSON value: null, number or "string"
	outJSONInner        // inside a JSON string: absent "-"
)

// maxField caps any one value (attacker-controlled headers can be
// large) before escaping.
const maxField = 16 << 10

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// eval returns a value without allocating: a string (usually a field of e
// or a header value), or an integer.
func (f *Format) eval(e *Entry, s *segment) (kind int, str string, n int64) {
	kind, str, n = f.evalSrc(e, s.src)
	if kind == kindAbsent && s.alt.op != opNone {
		kind, str, n = f.evalSrc(e, s.alt)
	}
	if kind != kindString {
		return kind, str, n
	}
	switch s.mode {
	case modeAddrHost:
		str, _ = splitAddr(str)
	case modeAddrPort:
		if _, p := splitAddr(str); p != "" {
			if v, err := strconv.ParseUint(p, 10, 16); err == nil {
				return kindNumber, "", int64(v)
			}
		}
		return kindAbsent, "", 0
	}
	if s.noQuery {
		if q := strings.IndexByte(str, '?'); q >= 0 {
			str = str[:q]
		}
	}
	if s.max > 0 && len(str) > s.max {
		str = str[:s.max]
	}
	if len(str) > maxField {
		str = str[:maxField]
	}
	if str == "" {
		return kindAbsent, "", 0
	}
	return kindString, str, 0
}

func strValue(s string) (int, string, int64) {
	if s == "" {
		return kindAbsent, "", 0
	}
	return kindString, s, 0
}

func headerValue(h map[string][]string, key string) (int, string, int64) {
	if v := h[key]; len(v) > 0 {
		return strValue(v[0])
	}
	return kindAbsent, "", 0
}

// evalSrc returns the value src names in e: numbers and times here,
// strings in evalString.
func (f *Format) evalSrc(e *Entry, src source) (int, string, int64) {
	switch src.op {
	case opStartTime:
		if e.Start.IsZero() {
			return kindAbsent, "", 0
		}
		return kindTime, "", 0
	case opCode:
		return kindNumber, "", int64(e.Code)
	case opStatus:
		if e.Code == 0 {
			return kindAbsent, "", 0
		}
		return kindDigits, "", int64(e.Code)
	case opBytesReceived:
		return kindNumber, "", e.BytesReceived
	case opBytesSent:
		return kindNumber, "", e.BytesSent
	case opDuration:
		return kindNumber, "", e.Duration.Milliseconds()
	case opRequestDuration:
		return optionalMillis(e.RequestDuration)
	case opResponseDuration:
		return optionalMillis(e.ResponseDuration)
	case opUpstreamServiceTime:
		if e.UpstreamServiceTime >= 0 {
			return kindDigits, "", e.UpstreamServiceTime.Milliseconds()
		}
		return headerValue(e.RespHeader, src.key)
	}
	return f.evalString(e, src)
}

// optionalMillis is a measured duration in milliseconds, absent when 0.
func optionalMillis(d time.Duration) (int, string, int64) {
	if d == 0 {
		return kindAbsent, "", 0
	}
	return kindNumber, "", d.Milliseconds()
}

// evalString returns the string value src names in e.
func (f *Format) evalString(e *Entry, src source) (int, string, int64) {
	switch src.op {
	case opMethod:
		return strValue(e.Method)
	case opPath:
		return strValue(e.Path)
	case opProtocol:
		return strValue(e.Protocol)
	case opFlags:
		if e.Flags == "" {
			return kindString, "-", 0
		}
		return kindString, e.Flags, 0
	case opDetails:
		return strValue(e.Details)
	case opTermination:
		return strValue(e.TerminationDetails)
	case opTransportFailure:
		return strValue(e.TransportFailure)
	case opXFF:
		return fieldOrHeader(e.XFF, e.ReqHeader, src.key)
	case opUserAgent:
		return fieldOrHeader(e.UserAgent, e.ReqHeader, src.key)
	case opRequestID:
		return fieldOrHeader(e.RequestID, e.ReqHeader, src.key)
	case opAuthority:
		return strValue(e.Authority) // Go moves Host out of the header map
	case opGRPCStatus, opGRPCStatusRaw: // GRPC_STATUS is named in appendValue (needs the mode)
		return fieldOrHeader(e.GRPCStatus, e.RespHeader, src.key)
	case opHostname:
		return strValue(f.host)
	case opReqHeader:
		return headerValue(e.ReqHeader, src.key)
	case opRespHeader:
		return headerValue(e.RespHeader, src.key)
	}
	return strValue(e.connField(src.op))
}

// connField returns the entry's connection and routing field for op, ""
// for any other op.
func (e *Entry) connField(op opcode) string {
	switch op {
	case opUpstreamHost:
		return e.UpstreamHost
	case opUpstreamCluster:
		return e.UpstreamCluster
	case opUpstreamLocal:
		return e.UpstreamLocal
	case opDownstreamLocal:
		return e.DownstreamLocal
	case opDownstreamRemote:
		return e.DownstreamRemote
	case opSNI:
		return e.SNI
	case opRouteName:
		return e.RouteName
	case opPolicy:
		return e.Policy
	}
	return ""
}

func fieldOrHeader(field string, h map[string][]string, key string) (int, string, int64) {
	if field != "" {
		return kindString, field, 0
	}
	return headerValue(h, key)
}

// splitAddr splits "ip:port" / "[v6]:port" into host (no brackets) and port.
func splitAddr(a string) (host, port string) {
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
