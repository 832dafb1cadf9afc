package transport

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
)

// headBufs hold the copies of response heads readHead checks. One holds a
// head and whatever else the first reads brought; larger ones, grown by an
// unusually large head, are left to the garbage collector.
var headBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

const maxPooledHeadBuf = 16 << 10

// Framing that http.ReadResponse accepts but a proxy must not relay
// (RFC 9112 6.1 and 6.3): what follows the head could be read two ways.
var (
	errLengthAndChunked = errors.New("upstream response has both Content-Length and Transfer-Encoding")
	errChunkedHTTP10    = errors.New("upstream HTTP/1.0 response has Transfer-Encoding")
	errChunked204       = errors.New("upstream 204 response has Transfer-Encoding")
	errSpacedFraming    = errors.New("upstream response has white space between a framing field's name and its colon")

	newline, colon   = []byte("\n"), []byte(":")
	contentLength    = []byte("Content-Length")
	transferEncoding = []byte("Transfer-Encoding")
)

// checkFraming checks the raw head of a final response. http.ReadResponse
// already refuses Content-Length values that differ and, on HTTP/1.1, any
// Transfer-Encoding but a single "chunked".
func checkFraming(head []byte, resp *http.Response) error {
	f := framingFields(head)
	switch {
	case f&spacedName != 0:
		return errSpacedFraming
	case f&hasCoding == 0:
		return nil
	case f&hasLength != 0:
		return errLengthAndChunked
	case !resp.ProtoAtLeast(1, 1):
		return errChunkedHTTP10
	case resp.StatusCode == http.StatusNoContent:
		return errChunked204
	}
	return nil
}

// framing says which framing fields a head has.
type framing uint8

const (
	hasLength framing = 1 << iota // Content-Length
	hasCoding                     // Transfer-Encoding
	// spacedName is one of them with white space before the colon, which
	// http.ReadResponse takes for another field (RFC 9112 5.1).
	spacedName
)

// framingFields reads the framing fields of a head that
// http.ReadResponse accepted: its lines end in LF, its first is the
// status line, and a line that starts with white space continues the
// previous field.
func framingFields(head []byte) (f framing) {
	_, rest, _ := bytes.Cut(head, newline)
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, newline)
		name, _, ok := bytes.Cut(line, colon)
		if !ok || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		trimmed := bytes.TrimRight(name, " \t")
		var bit framing
		switch {
		case bytes.EqualFold(trimmed, contentLength):
			bit = hasLength
		case bytes.EqualFold(trimmed, transferEncoding):
			bit = hasCoding
		}
		if bit != 0 && len(trimmed) < len(name) {
			bit |= spacedName
		}
		f |= bit
	}
	return f
}
