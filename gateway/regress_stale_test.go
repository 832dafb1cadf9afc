package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// Regression (found in review): a POST sent on a reused pooled connection that the upstream reads
// and then closes without answering is sent again on a new connection
// (errStaleConn path): the upstream executes it twice.
func TestRegressionStaleRetryDuplicatesPOST(t *testing.T) {
	var posts atomic.Int32
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.Method == "POST" {
				n := posts.Add(1)
				if n == 1 && i > 0 {
					return // processed, then the connection dies before the answer
				}
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	g := startGW(t, oneRoute(port, ""))
	g.get(80, "", "/warm") // leaves one pooled connection
	req, _ := http.NewRequest("POST", g.url(80)+"/charge", strings.NewReader("amount=100"))
	code, body, _ := do(t, req)
	t.Logf("client got %d %q; upstream saw %d POSTs", code, body, posts.Load())
	if posts.Load() > 1 {
		t.Errorf("non-idempotent POST executed %d times", posts.Load())
	}
}
