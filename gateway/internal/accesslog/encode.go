package accesslog

import "strconv"

// Encoding values: TEXT and JSON, absent values, gRPC status names.

var grpcCamelNames = [...]string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
	"Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"}

var grpcSnakeNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// appendValue appends the value of s for e, encoded for mode.
func (f *Format) appendValue(b []byte, e *Entry, s *segment, mode int) []byte {
	kind, str, n := f.eval(e, s)
	if kind == kindString && s.src.op == opGRPCStatus {
		if c, err := strconv.Atoi(str); err == nil && c >= 0 && c < len(grpcCamelNames) {
			switch s.mode {
			case modeGRPCNumber:
				kind, n = kindNumber, int64(c)
			case modeGRPCSnake:
				str = grpcSnakeNames[c]
			default:
				str = grpcCamelNames[c]
			}
		}
	}
	switch kind {
	case kindAbsent:
		if mode == outJSON {
			return append(b, "null"...)
		}
		return append(b, '-')
	case kindNumber:
		return strconv.AppendInt(b, n, 10)
	case kindDigits:
		if mode == outJSON {
			return append(strconv.AppendInt(append(b, '"'), n, 10), '"')
		}
		return strconv.AppendInt(b, n, 10)
	case kindTime:
		return appendTime(b, e, s, mode)
	}
	if mode == outJSON {
		return append(appendEscaped(append(b, '"'), str, false), '"')
	}
	return appendEscaped(b, str, mode == outText && s.escSpace)
}

// appendTime appends e's start time as s formats it.
func appendTime(b []byte, e *Entry, s *segment, mode int) []byte {
	if mode == outJSON {
		b = append(b, '"')
	}
	at := len(b)
	b = s.time.Append(b, e.Start)
	if s.max > 0 && len(b)-at > s.max {
		b = b[:at+s.max]
	}
	if mode != outText && !plainASCII(b[at:]) {
		// A literal of the START_TIME format (a quote, a backslash,
		// a tab) would break the JSON string; escaped after the
		// truncation, as Envoy serializes the truncated value.
		b = appendEscaped(b[:at], string(b[at:]), false)
	}
	if mode == outJSON {
		b = append(b, '"')
	}
	return b
}

// plainASCII reports whether b needs no JSON escaping.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if !safeASCII[c] {
			return false
		}
	}
	return true
}
