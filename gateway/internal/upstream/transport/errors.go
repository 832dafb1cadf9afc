package transport

import (
	"errors"
	"fmt"
)

// Errors of an upstream exchange; the proxy turns each into Envoy's local
// reply for it.
var (
	// ErrStreamIdle ends an exchange on which nothing moved for the
	// stream idle timeout (Envoy's stream_idle_timeout).
	ErrStreamIdle = errors.New("stream idle timeout")
	// ErrNoHealthy is a cluster with no endpoint to send to (Envoy's
	// "no healthy upstream", flag UH).
	ErrNoHealthy = errors.New("no healthy upstream")
)

// ErrOverflow is a request refused by a connection-pool limit (Envoy's
// circuit breaker, flag UO).
var ErrOverflow = errors.New("upstream connection pool overflow")

// ConnectError is a failure to connect to an endpoint (Envoy's UF).
type ConnectError struct{ Err error }

func (e *ConnectError) Error() string { return "upstream connect error: " + e.Err.Error() }
func (e *ConnectError) Unwrap() error { return e.Err }

// ResetError is a connection closed or reset before the response head was
// complete (Envoy's UC/UR).
type ResetError struct{ Err error }

func (e *ResetError) Error() string { return "upstream reset before response: " + e.Err.Error() }
func (e *ResetError) Unwrap() error { return e.Err }

// ProtocolError is a response the gateway cannot parse or accept.
type ProtocolError struct{ Err error }

func (e *ProtocolError) Error() string { return "upstream protocol error: " + e.Err.Error() }
func (e *ProtocolError) Unwrap() error { return e.Err }

// ClientBodyError is a failure reading the client's request body while
// sending it upstream: the client's fault, answered 400 if still possible.
type ClientBodyError struct{ Err error }

func (e *ClientBodyError) Error() string { return "reading request body: " + e.Err.Error() }
func (e *ClientBodyError) Unwrap() error { return e.Err }

// RequestError is an upstream request the gateway refuses to send: its
// request line or a header field is not valid HTTP. A CR, LF or NUL there
// would end the line early and let the rest be read as more fields or
// another request. Nothing of the request was sent.
type RequestError struct {
	Part string // "method", "path", "query", "host", "header name" or "header value"
	Name string // the header, for a header value
	Err  error  // net/http's refusal, when it refused first
}

func (e *RequestError) Error() string {
	switch {
	case e.Err != nil:
		return "upstream request not sent: " + e.Err.Error()
	case e.Name != "":
		return fmt.Sprintf("upstream request not sent: invalid %s for %q", e.Part, e.Name)
	}
	return "upstream request not sent: invalid " + e.Part
}

func (e *RequestError) Unwrap() error { return e.Err }

// RefusedStreamError is an HTTP/2 stream the upstream refused before
// processing it: always safe to retry (Envoy's refused-stream).
type RefusedStreamError struct{ Err error }

func (e *RefusedStreamError) Error() string { return "upstream refused the stream: " + e.Err.Error() }
func (e *RefusedStreamError) Unwrap() error { return e.Err }
