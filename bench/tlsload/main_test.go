package main

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// once completes a full handshake (never a resumption) and one request,
// and fails on a non-200 answer.
func TestOnce(t *testing.T) {
	var resumed, fresh atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.DidResume {
			resumed.Add(1)
		} else {
			fresh.Add(1)
		}
		if r.URL.Path != "/hello" || r.Host != "h.test" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("hello"))
	}))
	ts.Config.SetKeepAlivesEnabled(false)
	ts.StartTLS()
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "https://")
	cfg := &tls.Config{ServerName: "h.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"},
		CurvePreferences: []tls.CurveID{tls.X25519}}
	ok := []byte("GET /hello HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n")
	for range 3 {
		st, err := once(addr, cfg, ok, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if st.CurveID != tls.X25519 || st.Version != tls.VersionTLS13 {
			t.Errorf("negotiated %s %s", tls.VersionName(st.Version), st.CurveID)
		}
	}
	if resumed.Load() != 0 || fresh.Load() != 3 {
		t.Errorf("%d resumed, %d full handshakes; want 0 and 3", resumed.Load(), fresh.Load())
	}
	bad := []byte("GET /nope HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n")
	if _, err := once(addr, cfg, bad, 5*time.Second); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404 answer: %v, want an error", err)
	}
}
