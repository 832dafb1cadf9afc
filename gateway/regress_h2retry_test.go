package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// Regression (found in review): HTTP/2 upstream + perTryTimeout retry: net/http's h2 client returns
// from RoundTrip on the per-try timeout while its body-writer goroutine is
// still blocked reading the client's body through the shared replayBody.
// The retry reads the same replayBody concurrently; the next client bytes
// go to the dead attempt and the retried request is sent truncated.
func TestRegressionH2RetryTruncatesBody(t *testing.T) {
	var attempts atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) == 1 {
			<-r.Context().Done()
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s upstream read %d bytes: %q", r.Proto, len(b), b)
	}))
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetUnencryptedHTTP2(true)
	ts.Start()
	t.Cleanup(ts.Close)
	port := portOf(t, ts.Listener.Addr())
	cfg := map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: h2}\nspec:\n  hosts: [h2.internal]\n  ports: [{number: 8000, name: grpc, protocol: HTTP2}]\n  resolution: STATIC\n  endpoints:\n  - address: 127.0.0.1\n    ports: {grpc: %d}\n", port),
		"vs.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: h2.internal}}]\n    retries: {attempts: 2, perTryTimeout: 300ms, retryOn: 5xx}\n",
	}
	g := startGW(t, cfg)
	c := g.dial(80)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
	time.Sleep(700 * time.Millisecond) // attempt 1 hits its per-try timeout and is retried
	io.WriteString(c, "a\r\nABCDEFGHIJ\r\n0\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	t.Logf("%d %s (attempts %d)", resp.StatusCode, b, attempts.Load())
	if resp.StatusCode == 200 && string(b) != `HTTP/2.0 upstream read 20 bytes: "0123456789ABCDEFGHIJ"` {
		t.Errorf("retried request carried a different body than the client sent")
	}
}
