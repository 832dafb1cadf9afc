// Package h1guard puts one strict HTTP/1.1 request validator in front of any
// HTTP/1.1 server engine (net/http's Server, fasthttp's Server.ServeConn).
//
// New wraps a downstream net.Conn. The wrapper watches the client-to-server
// byte stream and lets the engine read only complete, valid request heads
// (RFC 9112, with the stricter choices below) and correctly framed bodies.
// Anything else it refuses itself, so the engine never sees a bad head and
// never has to agree with the gateway's idea of where a request ends.
//
// # Reading
//
// A request head is delivered only once it is complete and valid. A head that
// arrives in pieces is held in a pooled buffer until its final empty line; an
// idle connection holds no buffer. In the common case, a head arriving whole,
// the guard reads straight into the caller's slice, scans it and returns it:
// no copy. Content-Length bodies are counted, not scanned. Chunked bodies are
// scanned and delivered as they arrive.
//
// # Refusing
//
// When a head is invalid the guard delivers every byte before it, then
// writes a short response itself (400, 414, 431, 501 or 505 with
// "connection: close") straight to the connection and returns io.EOF from
// that Read and every later one. net/http treats io.EOF at a request boundary
// as a client that went away and writes nothing of its own.
//
// The one engine-specific rule: the refusal must not interleave with the
// engine's response to an earlier, pipelined request. net/http's server reads
// in the background with a 1-byte buffer while a handler runs, to notice a
// closed client. So a Read with len(p) == 1 never writes the refusal: in the
// refused state it reads and discards until the socket itself fails (net/http
// aborts that read with a deadline) and returns that error. The refusal is
// written by the first Read with len(p) > 1 after the violation, which
// net/http and fasthttp issue only after they have flushed every earlier
// response. An engine that only ever reads one byte at a time would never
// see the refusal written; it would see the socket's own errors.
//
// A violation inside a chunked body, after its head was delivered, is
// different: the engine is already answering that request. The body bytes
// before the violation are delivered, then every Read returns
// ErrBadRequestBody and the guard writes nothing. The head of a chunked
// request whose body begins in the same read is held until the first
// chunk-size line is whole (at most Limits.MaxChunkLine bytes more), and a
// violation found before the head was delivered (in that line, or further
// on in the same read) refuses the request whole, as a bad head does
// (Refusal.HeadHeld): the engine, and whatever it forwards to, never sees
// it. Which of the two happens depends on how the client's bytes arrive.
//
// # Upgrades, CONNECT and HTTP/2
//
// After a request with an Upgrade field and "upgrade" in Connection (HTTP/1.1
// only, RFC 9110 7.8), or a CONNECT request, and after its body, the guard
// watches the start of the engine's writes (at no other time does Write
// look at what it writes). A 101 response (or a 2xx to CONNECT) switches
// the connection to pass-through for good; another final response resumes
// validation at the next request; 1xx interim responses change nothing.
//
// Clients may send before that response: an h2c upgrade client sends the
// HTTP/2 preface right behind its request, some WebSocket clients their
// first frame. Such bytes are held, neither delivered nor refused, until the
// final response is written. After a 101 (or a 2xx to CONNECT) the next
// Read delivers them first; after another final response they are validated
// as the start of the next request, as if they had come after it. More than
// MaxHeaderBytes held is refused (data_before_upgrade_response, 400); the
// refusal is written only if the response did not switch the connection.
//
// While bytes are held, Read goes on reading and holding them and returns
// only the socket's error, never a byte. That is what net/http's background
// read needs while the handler runs: a byte would be kept as the next
// request's, and an error other than the timeout of its own abort would
// cancel the request's context. net/http aborts that read when a handler
// hijacks, before a WebSocket or h2c handler writes its 101, and after it
// has flushed any other response; its next Read finds the held bytes
// decided. An engine must write the final response before it reads again,
// as net/http, those hijackers and fasthttp do: a Read already waiting on
// the socket when the response is written returns the held bytes only once
// the socket returns.
//
// With Limits.AllowH2C, an HTTP/2 connection preface as the very first bytes
// passes the whole connection through (h2c with prior knowledge).
//
// # Choices where RFC 9112 leaves room
//
//   - Content-Length: 1 to 18 digits, no leading zero except "0" itself;
//     repeated fields must be identical; a comma list ("5, 5") is refused,
//     as net/http refuses it: every refusal should be the guard's own.
//   - Request-target: one of the four forms of RFC 9112 3.2 (origin,
//     absolute, authority for CONNECT, "*" for OPTIONS).
//   - Transfer-Encoding: only a single field whose value is "chunked"
//     (any case, surrounding whitespace allowed) on HTTP/1.1. A single field
//     listing well-formed coding names other than exactly chunked ("gzip,
//     chunked", "chunked, identity", "xchunked", "identity") gets 501: the
//     request is well formed, the coding is not implemented. Everything else
//     gets 400: a second Transfer-Encoding field, an empty value, parameters,
//     bytes that are not token characters ("chun ked"), Transfer-Encoding on
//     HTTP/1.0, or Transfer-Encoding together with Content-Length.
//   - Up to four empty lines (CRLF) before a request line are skipped and not
//     delivered (RFC 9112 2.2); a fifth gives 400.
//   - An HTTP/1.1 request needs a Host field and no request may have two
//     (RFC 9112 3.2); the value is left to the engine and the router.
//   - Trailer fields are validated like header fields and count against the
//     same budget as the head (MaxHeaders fields and MaxHeaderBytes bytes in
//     head and trailers together); a trailer named Content-Length or
//     Transfer-Encoding is refused.
//   - Chunk extensions must follow RFC 9112 7.1.1 (token names, token or
//     quoted-string values) without the whitespace it allows around ";"
//     and "=": net/http refuses that whitespace, and parsers disagree
//     about it.
package h1guard

import (
	"errors"
	"time"
)

// ErrBadRequestBody is returned by Read after a violation inside a request
// body (chunk framing or trailers), once the body bytes before it have been
// delivered. It wraps nothing.
var ErrBadRequestBody = errors.New("h1guard: malformed request body")

// Default limits, used for the zero fields of Limits.
const (
	// DefaultMaxHeaderBytes is the default Limits.MaxHeaderBytes, 64 KiB.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxHeaders is the default Limits.MaxHeaders.
	DefaultMaxHeaders = 100
	// DefaultMaxTarget is the default Limits.MaxTarget, 16 KiB.
	DefaultMaxTarget = 16 << 10
	// DefaultMaxChunkLine is the default Limits.MaxChunkLine, 4 KiB.
	DefaultMaxChunkLine = 4 << 10
)

// Limits configure a Conn; zero (or negative) fields take the defaults.
type Limits struct {
	// MaxHeaderBytes bounds the request line, the header fields and their
	// CRLFs (and the trailer fields after them). Exceeding it gives 431.
	MaxHeaderBytes int
	// MaxHeaders bounds the header fields of a request (trailers included).
	// Exceeding it gives 431.
	MaxHeaders int
	// MaxTarget bounds the request-target. Exceeding it gives 414.
	MaxTarget int
	// MaxChunkLine bounds the bytes of one chunk-size line, extensions
	// included, CRLF excluded (CVE-2023-39326). Exceeding it fails the body.
	MaxChunkLine int
	// AllowH2C lets a connection whose very first bytes are the HTTP/2
	// preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" pass through untouched
	// (h2c with prior knowledge). Without it such a connection gets 400.
	AllowH2C bool
	// HeadTimeout, if positive, bounds how long the head of a request
	// after the connection's first may take to arrive, from its first
	// byte: the guard sets the connection's read deadline then, and a
	// slow head fails the Read with the deadline's error. (The engine
	// bounds the first request's head itself; later ones it would only
	// time from their first delivered byte, which the guard delivers once
	// the head is whole.)
	HeadTimeout time.Duration
}

// withDefaults returns l with its zero fields set to the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	if l.MaxTarget <= 0 {
		l.MaxTarget = DefaultMaxTarget
	}
	if l.MaxChunkLine <= 0 {
		l.MaxChunkLine = DefaultMaxChunkLine
	}
	return l
}

// Refusal describes a refused request, for the caller's access log and
// metrics. Reason is one of a fixed set of short constants such as
// "content_length_and_transfer_encoding", "bare_lf", "obs_fold",
// "header_name_invalid", "too_many_headers", "headers_too_large" or
// "invalid_chunk".
type Refusal struct {
	// Status is the response status: 400, 414, 431, 501 or 505. For a
	// violation in a body whose head was delivered it is informational;
	// nothing is written. It is
	// 0 for a broken HTTP/2 connection preface: the client speaks HTTP/2,
	// so the connection closes without an HTTP/1.1 answer.
	Status int
	// Reason names the violation.
	Reason string
	// Method, Target and Proto are what could be parsed of the offending
	// request line, each at most 256 bytes; "" when nothing could be.
	Method, Target, Proto string
	// InBody reports a violation in a body (chunk framing or trailers).
	InBody bool
	// HeadHeld reports a violation in a body found before the request's
	// head was delivered to the engine: the request is refused whole, as
	// for a violation in its head, and the guard writes the response.
	HeadHeld bool
}
