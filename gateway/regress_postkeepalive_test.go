package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Regression (found while adding metrics): when the upstream answered a
// POST before gatehouse had finished writing the body upstream, the
// gateway set a past read deadline on the client's connection although
// the body had already been read to its end. net/http was by then reading
// the connection in the background; that read failed and cancelled the
// connection's context, so the next request on the connection started
// out cancelled and its client got an empty 200.
func TestRegressionRequestAfterEarlyAnsweredPost(t *testing.T) {
	t.Parallel()
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.Method) // answers without reading the body
	}))
	g := startGW(t, oneRoute(port, ""))
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	body := []byte("payload")
	for i := range 2000 {
		resp, err := c.Post(g.url(80)+"/p", "text/plain", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		gr, err := c.Get(g.url(80) + "/g")
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		b, _ := io.ReadAll(gr.Body)
		gr.Body.Close()
		code, got := gr.StatusCode, string(b)
		if resp.StatusCode != 200 || code != 200 || !strings.HasPrefix(got, "ok GET") {
			t.Fatalf("round %d: POST %d, then GET on the same connection %d %q", i, resp.StatusCode, code, got)
		}
	}
}
