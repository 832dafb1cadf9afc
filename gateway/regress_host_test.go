package gateway

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// An HTTP/2 :authority with bytes no host name has (net/http checks them
// in HTTP/1 Host headers only) is refused with 400 and never forwarded;
// a Kelvin sign once routed such a request to the ASCII name's host.
func TestRegressionH2AuthorityValidated(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("ka"))
	}))
	vs := fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ka}
spec:
  hosts: [ka.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, port)
	g := startGW(t, map[string]string{"gw.yaml": grpcGateway, "vs.yaml": vs})
	for _, tc := range []struct {
		authority string
		status    string
		hits      int32
	}{
		{"\u212Aa.example.COM", "400", 0},
		{"ka.example.com\x7f", "RST PROTOCOL_ERROR", 0}, // refused by the HTTP/2 server itself
		{"Ka.Example.COM:80", "200", 1},
	} {
		before := hits.Load()
		if got := h2Status(t, g.srv.Addr(80).String(), tc.authority); got != tc.status {
			t.Errorf(":authority %q: status %s, want %s", tc.authority, got, tc.status)
		}
		if n := hits.Load() - before; n != tc.hits {
			t.Errorf(":authority %q: %d requests reached the upstream, want %d", tc.authority, n, tc.hits)
		}
	}
}

// h2Status sends one prior-knowledge HTTP/2 GET with the given :authority
// (raw frames: Go's client refuses to send a bad one) and returns :status.
func h2Status(t *testing.T, addr, authority string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", authority}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	status := ""
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf(":authority %q: no response: %v", authority, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if f.StreamID == 1 {
				dec.Write(f.HeaderBlockFragment())
				return status
			}
		case *http2.RSTStreamFrame:
			return "RST " + f.ErrCode.String()
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo || f.LastStreamID < 1 {
				return "GOAWAY " + f.ErrCode.String()
			} // a graceful close (the answer says Connection: close): stream 1 is still answered
		}
	}
}
