package downstream

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// TrailerPrefix marks a header key set after the body was written as a
// trailer, as net/http's ResponseWriter does.
const TrailerPrefix = http.TrailerPrefix

// ResponseWriter is what the pipeline answers a Request through.
type ResponseWriter interface {
	// Header returns the response header map, which WriteHeader sends;
	// keys with TrailerPrefix set afterwards are sent as trailers.
	Header() http.Header
	// WriteHeader sends the status and the header; a 1xx may come first.
	WriteHeader(status int)
	// Write sends body bytes, the header first (200) if not sent yet.
	Write(p []byte) (int, error)
	// Flush sends what is buffered to the client at once.
	Flush() error
	// SetReadDeadline bounds the reads of the request body; the zero
	// time lifts the bound.
	SetReadDeadline(t time.Time) error
	// SetWriteDeadline bounds the writes of the response; a time in the
	// past fails pending writes at once.
	SetWriteDeadline(t time.Time) error
	// Hijack takes the connection over from the engine, for a protocol
	// switch (WebSocket): what is buffered of it comes with it.
	Hijack() (net.Conn, *bufio.ReadWriter, error)
	// UpgradeH2C switches the connection of a request with H2CUpgrade to
	// HTTP/2 and serves the request again as its stream 1. It returns
	// the status of the answer the engine wrote when it could not switch,
	// 0 when it switched.
	UpgradeH2C() (refused int)
	// Abort ends the exchange abnormally: the client sees its connection
	// (HTTP/1.1) or stream (HTTP/2) reset, never a clean end of a
	// response. It does not return.
	Abort()
}

// Handler serves requests: the pipeline, called by each engine's adapter.
type Handler interface {
	ServeDownstream(w ResponseWriter, r *Request)
}
