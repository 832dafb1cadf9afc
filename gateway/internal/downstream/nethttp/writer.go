package nethttp

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// responseWriter is a downstream.ResponseWriter over net/http's writer.
type responseWriter struct {
	w  http.ResponseWriter
	rc http.ResponseController
	r  *http.Request
	h  *handler
}

// Header, WriteHeader and Write are net/http's writer's own.

// Header returns the response header map.
func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

// WriteHeader sends the status and the header.
func (rw *responseWriter) WriteHeader(status int) { rw.w.WriteHeader(status) }

// Write sends body bytes.
func (rw *responseWriter) Write(p []byte) (int, error) { return rw.w.Write(p) }

// Flush, the deadlines and Hijack go through http.ResponseController, which
// reaches the writer under net/http's wrappers (HTTP/1.1 and HTTP/2).

// Flush sends what is buffered.
func (rw *responseWriter) Flush() error { return rw.rc.Flush() }

// SetReadDeadline bounds the reads of the request body.
func (rw *responseWriter) SetReadDeadline(t time.Time) error { return rw.rc.SetReadDeadline(t) }

// SetWriteDeadline bounds the writes of the response.
func (rw *responseWriter) SetWriteDeadline(t time.Time) error { return rw.rc.SetWriteDeadline(t) }

// Hijack takes the connection over from net/http.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return rw.rc.Hijack() }

// Abort makes net/http reset the connection (HTTP/1.1) or the stream
// (HTTP/2) without logging.
func (rw *responseWriter) Abort() { panic(http.ErrAbortHandler) }

// UpgradeH2C hands the request to x/net's h2c, which switches the
// connection and serves the request as stream 1 through the handler.
func (rw *responseWriter) UpgradeH2C() int {
	sw := &statusWriter{ResponseWriter: rw.w}
	rw.h.h2c.ServeHTTP(sw, rw.r)
	return sw.status
}

// statusWriter notes the status of an answer h2c writes when it cannot
// switch; Unwrap lets it hijack the connection through.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (sw *statusWriter) WriteHeader(status int) {
	if sw.status == 0 {
		sw.status = status
	}
	sw.ResponseWriter.WriteHeader(status)
}

func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }
