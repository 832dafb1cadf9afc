// Package h2guard closes HTTP/2 connections whose client opens streams and
// resets them at once (rapid reset, CVE-2023-44487), in front of any HTTP/2
// server engine: golang.org/x/net/http2's Server.ServeConn or net/http's
// own.
//
// Go's HTTP/2 servers bound the handlers that run at once, but they never
// close a connection whose client opens a stream with HEADERS and cancels
// it with RST_STREAM straight away, a hundred thousand times over: most of
// those streams still reach the handler, and so the proxy path. The guard
// applies Envoy's premature-reset rule instead: once a connection has
// opened Limits.MinStreams streams (500), if more than Limits.MaxResetRatio
// of them (half) were reset by the client, it sends a GOAWAY with
// ENHANCE_YOUR_CALM and closes the connection.
//
// New wraps a downstream net.Conn. The wrapper reads the HTTP/2 frame
// layer passively: it never changes, holds back or copies a byte the
// engine reads or writes, and it does not decode HPACK.
//
// # Which connections
//
// The guard looks at the first 24 bytes the client sends. If they are the
// HTTP/2 client connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
// the connection is HTTP/2 (prior knowledge, or TLS with ALPN h2 once the
// caller has done the handshake) and Active reports true. Anything else is
// HTTP/1.1: Reads pass through at the cost of one flag check, and Writes
// too, except that a Write starting with "HTTP/1.1 101 " (the answer to
// "Upgrade: h2c") makes the guard watch the client's next bytes for the
// preface once more. A WebSocket 101 is followed by WebSocket frames,
// never by the preface: such a connection is left alone for good.
//
// The guard expects the client to send the preface after the 101, as
// RFC 7540 3.2 requires. A client that sends it with the upgrade request
// is not watched; run the guard on top of h1guard, which refuses client
// bytes sent before an upgrade's response, to close that gap.
//
// # Counting
//
// On an HTTP/2 connection the guard parses the frame headers of
// everything the client sends after the preface; payloads are skipped by
// their length. A HEADERS frame on an odd stream id above every id seen
// before opens a stream. Each RST_STREAM frame on an odd stream id no
// higher than that counts as a reset by the client (a stream reset twice
// counts twice). After an h2c upgrade, stream 1 (the upgrade request)
// counts as opened. Unlike Envoy, the guard does not look at how long a
// stream lived before its reset: Limits.MinStreams and the ratio alone
// decide.
//
// # Closing
//
// When the rule trips, the Read that found it returns no bytes and
// ErrPrematureResets, as does every later Read and Write. The guard sends
// a GOAWAY (last stream id: the highest the client opened; error code
// ENHANCE_YOUR_CALM) between two of the server's frames, never inside one:
// at once if the server is not writing and its last Write ended a frame,
// else when the Write in progress ends a frame, else at the end of the
// frame the next Write finishes, which is cut there. It then shuts down
// the writing side (CloseWrite, when the wrapped conn has it) and reads and
// discards what the client still sends for up to a second, so that the
// close is not a TCP reset that could make the client lose the GOAWAY.
// Then it closes the wrapped conn and calls onClose with
// ReasonPrematureResets. If the server's bytes do not reach a frame
// boundary within a second (a Write blocked on a client that does not
// read), the guard closes the connection without a GOAWAY. Until it is
// done, the engine's own Close leaves the closing to the guard.
//
// The engine's own close of an HTTP/2 connection (after its GOAWAY for a
// protocol error, at an idle timeout, at shutdown) lingers the same way:
// Close shuts down the writing side and returns, and the guard discards
// what the client still sends for up to a second before it closes the
// wrapped conn. Reads and Writes then fail with net.ErrClosed.
//
// # Engines and TLS
//
// golang.org/x/net/http2 reads the TLS state of a connection through a
// ConnectionState method, and both it and net/http take any connection
// that has one for a TLS connection: on a plaintext connection they would
// refuse HTTP/2. So Conn has no such method; hand the engine ForServer's
// result, which is a *TLSConn with ConnectionState when the wrapped conn
// has TLS state, and the *Conn itself otherwise.
//
// # Cost
//
// An HTTP/1.1 connection costs a flag check per Read and per Write. An
// HTTP/2 connection costs a few instructions per frame header in each
// direction and an uncontended mutex per Write; nothing is allocated per
// frame. So does a connection after a 101 until its client's first bytes
// show it is not HTTP/2. The guard allocates only when it closes a
// connection.
package h2guard

import (
	"fmt"
	"net"
)

// ReasonPrematureResets is the reason onClose is given when the guard
// closes a connection whose client reset too many of the streams it
// opened.
const ReasonPrematureResets = "premature_resets"

// ErrPrematureResets is returned by Read and Write once the guard has
// tripped on a connection. It wraps net.ErrClosed, so engines treat it as
// a closed connection.
var ErrPrematureResets = fmt.Errorf("h2guard: connection closed after premature stream resets: %w", net.ErrClosed)

// Default limits, used for the zero fields of Limits.
const (
	// DefaultMinStreams is the default Limits.MinStreams, Envoy's.
	DefaultMinStreams = 500
	// DefaultMaxResetRatio is the default Limits.MaxResetRatio, Envoy's.
	DefaultMaxResetRatio = 0.5
)

// Limits configure a Conn; zero (or negative) fields take the defaults.
type Limits struct {
	// MinStreams is how many streams a connection must have opened before
	// the rule applies.
	MinStreams int
	// MaxResetRatio is the largest share of the streams a connection
	// opened that its client may reset: more than this closes the
	// connection. 1 or more never closes one.
	MaxResetRatio float64
}

// withDefaults returns l with its zero fields set to the defaults.
func (l Limits) withDefaults() Limits {
	if l.MinStreams <= 0 {
		l.MinStreams = DefaultMinStreams
	}
	if !(l.MaxResetRatio > 0) { // NaN too
		l.MaxResetRatio = DefaultMaxResetRatio
	}
	return l
}
