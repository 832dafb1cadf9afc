package accesslog

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A Recorder records the final status and the bytes both ways, and the
// places that answer reach its entry through the ResponseWriter.
func TestRecorder(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("POST", "/upload", strings.NewReader("12345"))
	rec := Begin(sinkWriter{http.Header{}}, r)
	var w http.ResponseWriter = rec
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

	if EntryOf(httptest.NewRecorder()) != nil {
		t.Error("EntryOf a plain ResponseWriter is not nil")
	}
	Note(httptest.NewRecorder(), "NR", "route_not_found") // no entry: nothing happens
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
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	rec := Begin(httptest.NewRecorder(), r)
	if e := rec.Finish(r); e.Code != 0 || e.Flags != "DC" || e.Details != "downstream_remote_disconnect" {
		t.Errorf("client gone: code %d, flags %q, details %q", e.Code, e.Flags, e.Details)
	}
	rec.Release()

	r = httptest.NewRequest("GET", "/", nil)
	rec = Begin(httptest.NewRecorder(), r)
	rec.SetH2C()
	if e := rec.Finish(r); e != nil {
		t.Errorf("h2c upgrade: Finish = %+v, want nil", e)
	}
	rec.Release()
}

func TestEntrySetRequest(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "http://shop.example.com/a?b=c", nil)
	r.ProtoMajor, r.ProtoMinor = 1, 0
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
type sinkWriter struct{ h http.Header }

func (s sinkWriter) Header() http.Header       { return s.h }
func (sinkWriter) WriteHeader(int)             {}
func (sinkWriter) Write(p []byte) (int, error) { return len(p), nil }
