package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// h2cCounting is an h2c upstream that counts the connections it accepted
// and those still open, and answers with its connection's number.
type h2cCounting struct {
	accepted, open atomic.Int32
	port           uint32
}

func startH2CCounting(t *testing.T, h http.HandlerFunc) *h2cCounting {
	return startH2CCountingWith(t, &http2.Server{}, h)
}

func startH2CCountingWith(t *testing.T, h2s *http2.Server, h http.HandlerFunc) *h2cCounting {
	u := &h2cCounting{}
	ts := httptest.NewUnstartedServer(h2c.NewHandler(h, h2s))
	ts.Listener = &h2cCountingListener{Listener: ts.Listener, u: u}
	ts.Start()
	t.Cleanup(ts.Close)
	u.port = portOf(t, ts.Listener.Addr())
	return u
}

// h2cCountingListener counts the connections it accepts, and their closes.
type h2cCountingListener struct {
	net.Listener
	u *h2cCounting
}

func (l *h2cCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.u.accepted.Add(1)
	l.u.open.Add(1)
	return &h2cCountedConn{Conn: c, u: l.u}, nil
}

type h2cCountedConn struct {
	net.Conn
	u    *h2cCounting
	once sync.Once
}

func (c *h2cCountedConn) Close() error {
	c.once.Do(func() { c.u.open.Add(-1) })
	return c.Conn.Close()
}

// Requests to an HTTP/2 upstream share its connections: 20 at once ride
// one connection (the upstream allows 100 streams per connection), never
// one dial each; maxRequestsPerConnection retires a connection after that
// many requests; maxConnections caps the connections, further requests
// waiting for a stream on one; and a reload that drops the upstream closes its
// idle connections.
func TestH2PoolSharesConnections(t *testing.T) {
	t.Parallel()
	proto := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }
	const upgrade = "    connectionPool: {http: {h2UpgradePolicy: UPGRADE}}\n"

	t.Run("concurrent requests share one connection", func(t *testing.T) {
		release := make(chan struct{})
		var inHandler sync.WaitGroup
		u := startH2CCounting(t, func(w http.ResponseWriter, r *http.Request) {
			inHandler.Done()
			<-release
			proto(w, r)
		})
		g := startGW(t, upstreamRoute(u.port, upgrade))
		inHandler.Add(20)
		var wg sync.WaitGroup
		codes := make([]int, 20)
		for i := range codes {
			wg.Go(func() { codes[i], _, _ = g.get(80, "", "/hold") })
		}
		inHandler.Wait() // all 20 reached the upstream at once
		close(release)
		wg.Wait()
		for i, c := range codes {
			if c != 200 {
				t.Errorf("request %d: %d, want 200", i, c)
			}
		}
		if n := u.accepted.Load(); n != 1 {
			t.Errorf("20 concurrent requests opened %d upstream connections, want 1", n)
		}
	})

	t.Run("maxRequestsPerConnection", func(t *testing.T) {
		u := startH2CCounting(t, proto)
		g := startGW(t, upstreamRoute(u.port, "    connectionPool: {http: {h2UpgradePolicy: UPGRADE, maxRequestsPerConnection: 2}}\n"))
		for i := range 6 {
			if code, body, _ := g.get(80, "", "/"); code != 200 || body != "HTTP/2.0" {
				t.Fatalf("request %d: %d %q", i, code, body)
			}
		}
		if n := u.accepted.Load(); n != 3 {
			t.Errorf("6 requests at 2 per connection opened %d connections, want 3", n)
		}
	})

	t.Run("maxConnections", func(t *testing.T) {
		release := make(chan struct{})
		var held atomic.Int32
		u := startH2CCountingWith(t, &http2.Server{MaxConcurrentStreams: 2}, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				held.Add(1)
				<-release
			}
			proto(w, r)
		})
		g := startGW(t, upstreamRoute(u.port, "    connectionPool: {tcp: {maxConnections: 1}, http: {h2UpgradePolicy: UPGRADE}}\n"))
		if code, _, _ := g.get(80, "", "/"); code != 200 { // the upstream's SETTINGS are known from here on
			t.Fatalf("first request: %d", code)
		}
		var wg sync.WaitGroup
		var failed atomic.Int32
		for range 5 {
			wg.Go(func() {
				if code, _, _ := g.get(80, "", "/hold"); code != 200 {
					failed.Add(1)
				}
			})
		}
		deadline := time.Now().Add(5 * time.Second)
		for held.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // room for a third stream or connection, were either allowed
		if n := held.Load(); n != 2 {
			t.Errorf("%d requests reached the upstream at once, want 2 (one connection of 2 streams)", n)
		}
		close(release)
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Errorf("%d of 5 requests failed, want every one served in turn", n)
		}
		if n := u.accepted.Load(); n != 1 {
			t.Errorf("%d upstream connections, want 1", n)
		}
	})

	t.Run("a reload that drops the upstream closes its connections", func(t *testing.T) {
		u := startH2CCounting(t, proto)
		other := startH2CCounting(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "other") })
		g := startGW(t, upstreamRoute(u.port, upgrade))
		if code, _, _ := g.get(80, "", "/"); code != 200 {
			t.Fatalf("status %d", code)
		}
		if n := u.open.Load(); n != 1 {
			t.Fatalf("%d upstream connections open, want 1", n)
		}
		g.write("se.yaml", serviceEntry("svc", "svc.internal", fmt.Sprint(other.port)))
		g.waitGen(2)
		deadline := time.Now().Add(5 * time.Second)
		for u.open.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := u.open.Load(); n != 0 {
			t.Errorf("%d upstream connections open after the reload, want 0", n)
		}
		if code, body, _ := g.get(80, "", "/"); code != 200 || body != "other" {
			t.Errorf("after the reload: %d %q, want 200 other", code, body)
		}
	})
}
