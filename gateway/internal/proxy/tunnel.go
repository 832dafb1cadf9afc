package proxy

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy/relay"
)

// tunnel completes a protocol switch (WebSocket): it checks that the
// upstream switched to the protocol the client asked for, relays the 101,
// then copies bytes both ways until both sides are done. The route timeout
// does not apply to the tunnel.
func (s *Pipeline) tunnel(w downstream.ResponseWriter, r *downstream.Request, resp *http.Response, want string) {
	up, ok := resp.Body.(io.ReadWriteCloser)
	if !ok || !strings.EqualFold(resp.Header.Get("Upgrade"), want) {
		resp.Body.Close()
		localReply(w, r, http.StatusBadGateway, BodyProtocol)
		return
	}
	if e := entryOf(w); e != nil {
		e.Code, e.Details = http.StatusSwitchingProtocols, "via_upstream"
	}
	conn, brw, err := w.Hijack()
	if err != nil {
		up.Close()
		localReply(w, r, http.StatusInternalServerError, "")
		return
	}
	// Shutdown closes the tunnel at its deadline; a WebSocket one gets a
	// close frame (1001, going away) first.
	var tracked io.Closer = conn
	var ws *relay.WSRelay
	if strings.EqualFold(want, "websocket") {
		ws = relay.NewWSRelay(conn)
		tracked = relay.NewWSTunnel(conn, ws)
	}
	s.tunnels.Add(tracked)
	defer s.tunnels.Remove(tracked)
	defer conn.Close()
	defer up.Close()
	if err := writeSwitch(brw.Writer, resp, want); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { relay.Pipe(up, brw.Reader) })
	if ws != nil {
		ws.CopyFrom(up)
		listener.CloseWrite(conn)
	} else {
		relay.Pipe(conn, up)
	}
	wg.Wait()
}

// writeSwitch writes the 101 response head to the client.
func writeSwitch(bw *bufio.Writer, resp *http.Response, proto string) error {
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ")
	bw.WriteString(proto)
	bw.WriteString("\r\n")
	named := resp.Header["Connection"]
	for k, vs := range resp.Header {
		if respHopHeaders[k] || transport.HeaderHasToken(named, k) {
			continue
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	bw.WriteString("\r\n")
	return bw.Flush()
}

// writeField writes one header field as it stands (the 101 response
// relayed to a client, whose fields http.ReadResponse checked).
func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}
