package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testUpstream is an upstream reached over in-memory connections
// (net.Pipe): it counts the dials and serves each connection with serve,
// or leaves its end to the test when serve is nil.
type testUpstream struct {
	serve func(net.Conn)
	fail  error // refuse every dial with this error

	mu    sync.Mutex
	peers []net.Conn // the upstream's end of each connection dialed
}

func (u *testUpstream) dial(context.Context, string, string) (net.Conn, error) {
	if u.fail != nil {
		return nil, u.fail
	}
	c, s := net.Pipe()
	u.mu.Lock()
	u.peers = append(u.peers, s)
	u.mu.Unlock()
	if u.serve != nil {
		go u.serve(s)
	}
	return c, nil
}

// dials returns the number of connections dialed.
func (u *testUpstream) dials() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.peers)
}

// peer returns the upstream's end of the i-th connection dialed.
func (u *testUpstream) peer(i int) net.Conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.peers[i]
}

func (u *testUpstream) closeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.peers {
		c.Close()
	}
}

// newTestPool is a pool of HTTP/1.1 connections to u.
func newTestPool(t *testing.T, u *testUpstream, limits Limits, limiter *Limiter) *Pool {
	p := &Pool{key: PoolKey{Addr: "upstream.test:80"}, network: "tcp", addr: "upstream.test:80", dial: u.dial, limits: limits, limiter: limiter}
	t.Cleanup(func() {
		p.close()
		u.closeAll()
	})
	return p
}

// answer serves HTTP/1.1 requests on c, answering each with body; after
// hangUpAfter answers (0: never) it reads one more request and closes the
// connection without answering, as an upstream closing an idle connection
// as the request arrives does.
func answer(body string, hangUpAfter int, header string) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if hangUpAfter > 0 && n > hangUpAfter {
				return
			}
			if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s", len(body), header, body); err != nil {
				return
			}
		}
	}
}

// sendVia sends one request through the pool's HTTP/1.1 engine.
func sendVia(p *Pool, method string) (*http.Response, error) {
	o := newTestRequest(httptest.NewRequest(method, "http://svc.test/x", nil))
	o.Path = "/x"
	return p.roundTrip(context.Background(), o)
}

// mustGet takes a connection from the pool, failing the test on an error.
func mustGet(t *testing.T, p *Pool, fresh bool) *h1Conn {
	t.Helper()
	pc, err := p.get(context.Background(), time.Second, fresh)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return pc
}

// waitClosed waits until the upstream sees the i-th connection closed.
func waitClosed(t *testing.T, u *testUpstream, i int) {
	t.Helper()
	if _, err := u.peer(i).Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("connection %d: read %v, want EOF (closed by the pool)", i, err)
	}
}

func TestPoolReusesIdleConnections(t *testing.T) {
	u := &testUpstream{}
	p := newTestPool(t, u, Limits{}, nil)
	a := mustGet(t, p, false)
	b := mustGet(t, p, false)
	if u.dials() != 2 || p.open.Load() != 2 {
		t.Fatalf("two connections in use: %d dials, %d open", u.dials(), p.open.Load())
	}
	p.put(a)
	p.put(b)
	if n := p.IdleCount(); n != 2 {
		t.Fatalf("%d idle after two were put back, want 2", n)
	}
	// The most recently used first: the others stay idle and time out.
	if got := mustGet(t, p, false); got != b {
		t.Errorf("got a connection other than the last one put back")
	}
	if got := mustGet(t, p, false); got != a {
		t.Errorf("got a connection other than the idle one")
	}
	if u.dials() != 2 || !a.reused || !b.reused {
		t.Errorf("reuse dialed: %d dials; reused %v %v", u.dials(), a.reused, b.reused)
	}
	t.Run("fresh skips the idle ones", func(t *testing.T) {
		p.put(a)
		c := mustGet(t, p, true)
		if c == a || u.dials() != 3 || p.IdleCount() != 1 {
			t.Errorf("fresh: reused %v, %d dials, %d idle", c == a, u.dials(), p.IdleCount())
		}
	})
}

// At most maxIdlePerEndpoint connections are kept idle; the rest close.
func TestPoolMaxIdle(t *testing.T) {
	u := &testUpstream{}
	p := newTestPool(t, u, Limits{}, nil)
	var conns []*h1Conn
	for range maxIdlePerEndpoint + 3 {
		conns = append(conns, mustGet(t, p, false))
	}
	for _, pc := range conns {
		p.put(pc)
	}
	if n := p.IdleCount(); n != maxIdlePerEndpoint {
		t.Errorf("%d idle, want %d", n, maxIdlePerEndpoint)
	}
	for i, pc := range conns {
		if want := i >= maxIdlePerEndpoint; pc.closed.Load() != want {
			t.Errorf("connection %d: closed %v, want %v", i, pc.closed.Load(), want)
		}
	}
	if n := p.open.Load(); n != maxIdlePerEndpoint {
		t.Errorf("%d open, want %d", n, maxIdlePerEndpoint)
	}
}

// Connections retire on maxRequestsPerConnection, maxConnectionDuration
// and the idle timeout: closed instead of pooled, or dropped when taken.
func TestPoolRetiresConnections(t *testing.T) {
	long := time.Hour
	tests := []struct {
		name   string
		limits Limits
		age    func(pc *h1Conn) // makes pc older, before it is put back
		pooled bool
	}{
		{"fresh", Limits{}, func(*h1Conn) {}, true},
		{"below maxRequestsPerConnection", Limits{MaxRequestsPerConn: 3}, func(pc *h1Conn) { pc.uses = 2 }, true},
		{"at maxRequestsPerConnection", Limits{MaxRequestsPerConn: 3}, func(pc *h1Conn) { pc.uses = 3 }, false},
		{"maxRequestsPerConnection 1: no keep-alive", Limits{MaxRequestsPerConn: 1}, func(pc *h1Conn) { pc.uses = 1 }, false},
		{"younger than maxConnectionDuration", Limits{MaxConnDuration: long}, func(pc *h1Conn) { pc.born = time.Now().Add(-long + time.Minute) }, true},
		{"older than maxConnectionDuration", Limits{MaxConnDuration: long}, func(pc *h1Conn) { pc.born = time.Now().Add(-long) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &testUpstream{}
			p := newTestPool(t, u, tt.limits, nil)
			pc := mustGet(t, p, false)
			tt.age(pc)
			p.put(pc)
			if got := p.IdleCount() == 1; got != tt.pooled {
				t.Fatalf("pooled = %v, want %v", got, tt.pooled)
			}
			if !tt.pooled {
				waitClosed(t, u, 0)
				if p.open.Load() != 0 {
					t.Errorf("%d open after the only connection closed", p.open.Load())
				}
			}
		})
	}
	// An idle connection that reached a limit while idle is closed when
	// next taken, and a new one dialed.
	idleTests := []struct {
		name   string
		limits Limits
		age    func(pc *h1Conn)
	}{
		{"idle timeout", Limits{IdleTimeout: time.Minute}, func(pc *h1Conn) { pc.idleAt = time.Now().Add(-time.Minute) }},
		{"default idle timeout", Limits{}, func(pc *h1Conn) { pc.idleAt = time.Now().Add(-idleConnTimeout) }},
		{"maxConnectionDuration", Limits{MaxConnDuration: long}, func(pc *h1Conn) { pc.born = time.Now().Add(-long) }},
	}
	for _, tt := range idleTests {
		t.Run(tt.name+" while idle", func(t *testing.T) {
			u := &testUpstream{}
			p := newTestPool(t, u, tt.limits, nil)
			pc := mustGet(t, p, false)
			p.put(pc)
			tt.age(pc)
			if got := mustGet(t, p, false); got == pc {
				t.Fatal("got the expired connection")
			}
			waitClosed(t, u, 0)
			if u.dials() != 2 || p.open.Load() != 1 {
				t.Errorf("%d dials, %d open; want 2 and 1", u.dials(), p.open.Load())
			}
		})
	}
}

// A closed pool (its endpoint left the configuration) closes its idle
// connections, and those still in use when they come back.
func TestPoolClose(t *testing.T) {
	u := &testUpstream{}
	p := newTestPool(t, u, Limits{}, nil)
	idle, busy := mustGet(t, p, false), mustGet(t, p, false)
	p.put(idle)
	p.close()
	waitClosed(t, u, 0)
	p.put(busy)
	waitClosed(t, u, 1)
	if p.IdleCount() != 0 || p.open.Load() != 0 {
		t.Errorf("closed pool: %d idle, %d open", p.IdleCount(), p.open.Load())
	}
}

func TestPoolDialFailure(t *testing.T) {
	refused := errors.New("connection refused")
	u := &testUpstream{fail: refused}
	l := &Limiter{max: 1}
	p := newTestPool(t, u, Limits{MaxConnections: 1}, l)
	for range 3 { // each failure gives its slot back
		_, err := p.get(context.Background(), time.Second, false)
		var ce *ConnectError
		if !errors.As(err, &ce) || !errors.Is(err, refused) {
			t.Fatalf("get = %v, want a connectError wrapping %v", err, refused)
		}
	}
	if p.open.Load() != 0 || l.open != 0 {
		t.Errorf("after failed dials: pool %d open, limiter %d open", p.open.Load(), l.open)
	}
}

// The HTTP/1.1 engine returns a connection to the pool once its response
// is read to the end, and only then.
func TestPoolKeepAlive(t *testing.T) {
	tests := []struct {
		name   string
		header string // of the upstream's responses
		read   bool   // the body is read to its end before Close
		reused bool
	}{
		{"keep-alive", "", true, true},
		{"Connection: close", "Connection: close\r\n", true, false},
		{"body closed unread", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &testUpstream{serve: answer("ok", 0, tt.header)}
			p := newTestPool(t, u, Limits{}, nil)
			for i := range 2 {
				resp, err := sendVia(p, "GET")
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if tt.read {
					if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
						t.Fatalf("request %d: body %q", i, b)
					}
				}
				resp.Body.Close()
			}
			want := 2
			if tt.reused {
				want = 1
			}
			if u.dials() != want {
				t.Errorf("two requests dialed %d connections, want %d", u.dials(), want)
			}
		})
	}
}

// A pooled connection the upstream closed just as a request went out on
// it (it had not been idle long enough to be probed) is replaced once by a
// new connection when the request may be sent twice; otherwise the error
// is the route's retry policy's to handle.
func TestPoolStaleConnection(t *testing.T) {
	tests := []struct {
		method string
		ok     bool
	}{
		{"GET", true},
		{"HEAD", true},
		{"POST", false},
		{"PATCH", false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			// Each connection answers once, then hangs up on the next request.
			u := &testUpstream{serve: answer("", 1, "")}
			p := newTestPool(t, u, Limits{}, nil)
			resp, err := sendVia(p, "GET")
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			if p.IdleCount() != 1 {
				t.Fatal("the first connection was not pooled")
			}
			resp, err = sendVia(p, tt.method)
			if tt.ok {
				if err != nil {
					t.Fatalf("%s on a stale connection: %v, want it sent again", tt.method, err)
				}
				resp.Body.Close()
				if u.dials() != 2 {
					t.Errorf("%d dials, want 2", u.dials())
				}
				return
			}
			var re *ResetError
			if !errors.As(err, &re) || !errors.Is(err, errStaleConn) {
				t.Fatalf("%s on a stale connection: %v, want a reset (stale connection)", tt.method, err)
			}
			if u.dials() != 1 {
				t.Errorf("%s was sent again: %d dials", tt.method, u.dials())
			}
		})
	}
}

func TestPoolSetReap(t *testing.T) {
	s := NewPoolSet((&testUpstream{}).dial)
	defer s.CloseAll()
	if got := s.ReapInterval(); got != maxReapInterval {
		t.Errorf("no pools: reap every %v, want %v", got, maxReapInterval)
	}
	def := s.Get(PoolKey{Addr: "a:80"}, PoolOptions{})
	if got := s.ReapInterval(); got != idleConnTimeout/4 {
		t.Errorf("default idle timeout: reap every %v, want %v", got, idleConnTimeout/4)
	}
	short := s.Get(PoolKey{Addr: "b:80", Settings: "idle=1s"}, PoolOptions{Limits: Limits{IdleTimeout: time.Second}})
	if got := s.ReapInterval(); got != 250*time.Millisecond {
		t.Errorf("an idle timeout of 1s: reap every %v, want 250ms", got)
	}
	s.Get(PoolKey{Addr: "c:80", Settings: "idle=10ms"}, PoolOptions{Limits: Limits{IdleTimeout: 10 * time.Millisecond}})
	if got := s.ReapInterval(); got != minReapInterval {
		t.Errorf("an idle timeout of 10ms: reap every %v, want %v", got, minReapInterval)
	}
	if s.Get(PoolKey{Addr: "a:80"}, PoolOptions{}) != def {
		t.Error("the same key gave another pool")
	}

	// reap closes exactly the idle connections past their pool's timeout.
	now := time.Now()
	conns := []*h1Conn{mustGet(t, def, false), mustGet(t, def, false), mustGet(t, short, false), mustGet(t, short, false)}
	for _, pc := range conns {
		pc.pool.put(pc)
	}
	conns[0].idleAt = now.Add(-idleConnTimeout) // expired
	conns[1].idleAt = now.Add(-time.Minute)     // not yet
	conns[2].idleAt = now.Add(-time.Second)     // expired
	conns[3].idleAt = now.Add(-time.Millisecond)
	s.Reap(now)
	for i, want := range []bool{true, false, true, false} {
		if got := conns[i].closed.Load(); got != want {
			t.Errorf("connection %d: closed %v, want %v", i, got, want)
		}
	}
	if def.IdleCount() != 1 || short.IdleCount() != 1 {
		t.Errorf("after reaping: %d and %d idle, want 1 and 1", def.IdleCount(), short.IdleCount())
	}

	// retain closes the pools a new configuration no longer uses.
	s.Retain(map[*Pool]bool{def: true})
	if !conns[3].closed.Load() || conns[1].closed.Load() {
		t.Errorf("retain: dropped pool's idle connection closed %v, kept pool's %v", conns[3].closed.Load(), conns[1].closed.Load())
	}
	if got := s.Get(PoolKey{Addr: "b:80", Settings: "idle=1s"}, PoolOptions{}); got == short {
		t.Error("a dropped pool was handed out again")
	}
}
