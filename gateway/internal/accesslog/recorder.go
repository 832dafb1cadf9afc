package accesslog

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
)

// Recorder is the ResponseWriter a request is answered through while its
// Entry is filled: it records the final status, counts the body bytes
// sent, and carries the Entry, which the places that answer reach through
// EntryOf and Note. The engine's other controls (flush, deadlines, hijack,
// abort) pass through. A Recorder belongs to one request; Release recycles
// it.
type Recorder struct {
	downstream.ResponseWriter
	e     Entry
	wrote bool
	// h2c is set when the request upgrades its connection to HTTP/2: the
	// connection's streams are the requests, not it (unless refused).
	h2c  bool
	body *countingBody
}

var recorders = sync.Pool{New: func() any { return new(Recorder) }}

// Begin starts the entry of a request: it wraps w, and r's body so that
// the bytes received are counted. End it with Finish, then Release.
func Begin(w downstream.ResponseWriter, r *downstream.Request) *Recorder {
	rw := recorders.Get().(*Recorder)
	rw.ResponseWriter = w
	rw.e.Start = time.Now()
	rw.e.UpstreamServiceTime = -1
	if r.Body != nil {
		rw.body = &countingBody{ReadCloser: r.Body}
		r.Body = rw.body
	}
	return rw
}

// WriteHeader records the final status; 1xx responses are not final.
func (rw *Recorder) WriteHeader(code int) {
	if !rw.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rw.wrote, rw.e.Code = true, code
	}
	rw.ResponseWriter.WriteHeader(code)
}

// Write writes body bytes and counts them.
func (rw *Recorder) Write(b []byte) (int, error) {
	if !rw.wrote {
		rw.wrote, rw.e.Code = true, http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.e.BytesSent += int64(n)
	return n, err
}

// Unwrap returns the engine's writer the Recorder wraps.
func (rw *Recorder) Unwrap() downstream.ResponseWriter { return rw.ResponseWriter }

// Entry returns the request's entry, valid until Release.
func (rw *Recorder) Entry() *Entry { return &rw.e }

// UpgradeH2C switches the request's connection to HTTP/2 (h2c): the
// connection's streams are the requests, so unless the engine refused
// the switch (and answered this one itself) Finish reports nothing.
func (rw *Recorder) UpgradeH2C() int {
	rw.h2c = true
	refused := rw.ResponseWriter.UpgradeH2C()
	if refused != 0 && !rw.wrote {
		rw.wrote, rw.e.Code = true, refused
	}
	return refused
}

// Finish completes the entry when the request ends: its duration, the
// bytes received, and DC when the client went away before an answer. It
// returns nil for a request that handed its connection to h2c unanswered
// (stream 1 may still be reading r).
func (rw *Recorder) Finish(r *downstream.Request) *Entry {
	e := &rw.e
	if rw.h2c && e.Code == 0 {
		return nil
	}
	e.Duration = time.Since(e.Start)
	if rw.body != nil {
		e.BytesReceived = rw.body.n.Load()
	}
	if e.Code == 0 && r.Context().Err() != nil && !strings.Contains(e.Flags, "DC") {
		e.Note("DC", "downstream_remote_disconnect")
	}
	return e
}

// Release recycles the Recorder; neither it nor its entry may be used afterwards.
func (rw *Recorder) Release() {
	*rw = Recorder{}
	recorders.Put(rw)
}

// EntryOf returns the entry of the request w answers, or nil when w is
// not a Recorder. Handlers fill it as they decide.
func EntryOf(w downstream.ResponseWriter) *Entry {
	if rw, ok := w.(*Recorder); ok {
		return &rw.e
	}
	return nil
}

// Note adds Envoy response flags and sets the response code details of
// the request w answers (see Entry.Note); without a Recorder it does
// nothing.
func Note(w downstream.ResponseWriter, flags, details string) {
	EntryOf(w).Note(flags, details)
}

// countingBody counts the request body bytes read, for BYTES_RECEIVED.
// The body may be read by another goroutine than the handler's.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
