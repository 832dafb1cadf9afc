package accesslog

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
)

// A Recorder records the final status and the bytes both ways, and the
// places that answer reach its entry through the ResponseWriter.
func TestRecorder(t *testing.T) {
	t.Parallel()
	r := &downstream.Request{Method: "POST", RequestURI: "/upload", Body: io.NopCloser(strings.NewReader("12345")), ContentLength: 5}
	rec := Begin(&sinkWriter{h: http.Header{}}, r)
	var w downstream.ResponseWriter = rec
	w.WriteHeader(http.StatusEarlyHints) // not final
	Note(w, "URX", "")
	Note(w, "UF", "upstream_reset_before_response_started{connection_failure}")
	Note(w, "", "") // keeps both
	io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, "bad gateway")
	e := rec.Finish(r)
	if e != EntryOf(w) || e.Code != 502 || e.BytesSent != 11 || e.BytesReceived != 5 || e.Duration <= 0 {
		t.Errorf("entry: code %d, sent %d, received %d, duration %v", e.Code, e.BytesSent, e.BytesReceived, e.Duration)
	}
	if e.Flags != "URX,UF" || e.Details != "upstream_reset_before_response_started{connection_failure}" {
		t.Errorf("flags %q, details %q", e.Flags, e.Details)
	}
	rec.Release()

	if EntryOf(&sinkWriter{}) != nil {
		t.Error("EntryOf a plain ResponseWriter is not nil")
	}
	Note(&sinkWriter{}, "NR", "route_not_found") // no entry: nothing happens
	var none *Entry
	none.Note("UH", "no_healthy_upstream")
	none.SetUpstream("c", "h")
}

// A request whose client went away before an answer gets DC; one that
// handed its connection to h2c unanswered is not reported at all.
func TestRecorderFinish(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &downstream.Request{Method: "GET", RequestURI: "/"}
	r.SetContext(ctx)
	rec := Begin(&sinkWriter{}, r)
	if e := rec.Finish(r); e.Code != 0 || e.Flags != "DC" || e.Details != "downstream_remote_disconnect" {
		t.Errorf("client gone: code %d, flags %q, details %q", e.Code, e.Flags, e.Details)
	}
	rec.Release()

	r = &downstream.Request{Method: "GET", RequestURI: "/"}
	rec = Begin(&sinkWriter{}, r)
	rec.UpgradeH2C()
	if e := rec.Finish(r); e != nil {
		t.Errorf("h2c upgrade: Finish = %+v, want nil", e)
	}
	rec.Release()

	// An upgrade the engine refused, answering 500 itself, is the request's.
	rec = Begin(&sinkWriter{refuseH2C: http.StatusInternalServerError}, r)
	rec.UpgradeH2C()
	if e := rec.Finish(r); e == nil || e.Code != http.StatusInternalServerError {
		t.Errorf("refused h2c upgrade: Finish = %+v, want code 500", e)
	}
	rec.Release()
}

func TestEntrySetRequest(t *testing.T) {
	t.Parallel()
	r := &downstream.Request{Method: "GET", RequestURI: "http://shop.example.com/a?b=c", Host: "shop.example.com",
		ProtoMajor: 1, ProtoMinor: 0, Header: http.Header{}, RemoteAddr: "192.0.2.1:1234"}
	r.Header.Set("User-Agent", "curl/8.5.0")
	r.Header.Set("X-Forwarded-For", "192.0.2.10")
	r.Header.Set("X-Request-Id", "rid")
	e := &Entry{OriginalPath: "/before/rewrite"}
	e.SetRequest(r)
	if e.Method != "GET" || e.Path != "/before/rewrite" || e.Protocol != "HTTP/1.0" || e.Authority != "shop.example.com" ||
		e.UserAgent != "curl/8.5.0" || e.XFF != "192.0.2.10" || e.RequestID != "rid" || e.DownstreamRemote != r.RemoteAddr {
		t.Errorf("SetRequest: %+v", e)
	}
}

// sinkWriter is a ResponseWriter that accepts anything.
type sinkWriter struct {
	h         http.Header
	refuseH2C int
}

func (s *sinkWriter) Header() http.Header                        { return s.h }
func (*sinkWriter) WriteHeader(int)                              {}
func (*sinkWriter) Write(p []byte) (int, error)                  { return len(p), nil }
func (*sinkWriter) Flush() error                                 { return nil }
func (*sinkWriter) SetReadDeadline(time.Time) error              { return nil }
func (*sinkWriter) SetWriteDeadline(time.Time) error             { return nil }
func (*sinkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, net.ErrClosed }
func (s *sinkWriter) UpgradeH2C() int                            { return s.refuseH2C }
func (*sinkWriter) Abort()                                       { panic("abort") }
