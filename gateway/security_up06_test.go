package gateway

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Fake is an HTTP/2 upstream (prior knowledge) written with a Framer.
// Its behaviour per mode:
//   - "ok": answers every stream 200 "pong";
//   - "goaway": sends GOAWAY (last stream 0), then SETTINGS with
//     MAX_CONCURRENT_STREAMS 0, and answers nothing;
//   - "refuse": answers every stream with RST_STREAM REFUSED_STREAM;
//   - "pings": sends 200 000 PINGs while answering every stream 200 "pong".
//
// It counts connections, and closed reports when the gateway ended one
// (a read error other than the test's own deadline).
type h2Fake struct {
	conns  atomic.Int32
	closed chan struct{}
}

func startH2Fake(t *testing.T, mode string) (*h2Fake, uint32) {
	f := &h2Fake{closed: make(chan struct{}, 1)}
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		f.conns.Add(1)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
			return
		}
		// The PING flood and the answers share the Framer's writing side.
		var wmu sync.Mutex
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		switch mode {
		case "goaway":
			fr.WriteGoAway(0, http2.ErrCodeNo, nil)
			fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 0})
		case "pings":
			go func() {
				for i := range 200000 {
					wmu.Lock()
					err := fr.WritePing(false, [8]byte{byte(i), byte(i >> 8), byte(i >> 16)})
					wmu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
		for {
			frame, err := fr.ReadFrame()
			if err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					select {
					case f.closed <- struct{}{}:
					default:
					}
				}
				return
			}
			h, ok := frame.(*http2.HeadersFrame)
			switch {
			case !ok:
			case mode == "refuse":
				fr.WriteRSTStream(h.StreamID, http2.ErrCodeRefusedStream)
			case mode == "ok" || mode == "pings":
				var block bytes.Buffer
				hpack.NewEncoder(&block).WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
				wmu.Lock()
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: h.StreamID, BlockFragment: block.Bytes(), EndHeaders: true})
				fr.WriteData(h.StreamID, true, []byte("pong"))
				wmu.Unlock()
			}
		}
	})
	return f, port
}

// h2UpgradeRoute routes everything to an HTTP/2 upstream on port, with the
// given route options.
func h2UpgradeRoute(port uint32, options string) map[string]string {
	cfg := upstreamRoute(port, "    connectionPool: {http: {h2UpgradePolicy: UPGRADE}}\n")
	cfg["vs.yaml"] += options
	return cfg
}

// security.md UP-06: misbehaving HTTP/2 upstream. Against the Framer-based
// upstream: a well-behaved one answers (the control); one that floods the
// gateway with 200 000 PINGs still gets its request answered within 5 s
// over one connection, and the gateway keeps serving: it answers each PING
// as Envoy does, and an upstream that stops reading the answers stalls
// its own connection, whose writes then block, rather than growing a
// queue. The GOAWAY and REFUSED_STREAM upstreams are
// TestUP06MisbehavingH2UpstreamFails.
func TestUP06MisbehavingH2Upstream(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"ok", "pings"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			f, port := startH2Fake(t, mode)
			g := startGW(t, h2UpgradeRoute(port, ""))
			for i := range 3 {
				start := time.Now()
				code, body, _ := doWith(t, &http.Client{Timeout: 10 * time.Second}, mustRequest(t, g.url(80)+"/"))
				if took := time.Since(start); code != 200 || body != "pong" || took > 5*time.Second {
					t.Errorf("request %d: %d %q after %v, want 200 pong within 5s", i, code, body, took)
				}
			}
			if n := f.conns.Load(); n != 1 {
				t.Errorf("%d upstream connections, want 1", n)
			}
		})
	}
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// security.md UP-06 (GOAWAY, REFUSED_STREAM): an upstream that sends
// GOAWAY and then SETTINGS_MAX_CONCURRENT_STREAMS 0 on every connection,
// or refuses every stream, makes the request fail with 503 within
// seconds, after the route's retries and no more than a few connections
// (net/http's Transport would dial thousands a second, or back off for a
// minute).
func TestUP06MisbehavingH2UpstreamFails(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"goaway", "refuse"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			f, port := startH2Fake(t, mode)
			g := startGW(t, h2Route(port, ""))
			start := time.Now()
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(g.url(80) + "/")
			if err != nil {
				t.Errorf("no answer within 5s: %v (%d upstream connections)", err, f.conns.Load())
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 503 || f.conns.Load() > 10 {
				t.Errorf("%d after %v and %d upstream connections, want 503 after at most 10", resp.StatusCode, time.Since(start), f.conns.Load())
			}
		})
	}
}
