package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/handoff"
)

// newTestH2Pool is an HTTP/2 pool (h2c, prior knowledge) to an upstream
// served over in-memory connections by h, with net/http's server.
func newTestH2Pool(t *testing.T, limits Limits, h http.HandlerFunc) (*h2Pool, *testUpstream) {
	ln := handoff.New(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	u := &testUpstream{serve: func(c net.Conn) {
		if !ln.Deliver(c) {
			c.Close()
		}
	}}
	limits.ConnectTimeout = time.Second
	p := newTestPool(t, u, limits, nil)
	p.h2 = p.newH2()
	return p.h2, u
}

// h2Get sends a GET through h and reads the whole response.
func h2Get(ctx context.Context, h *h2Pool) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://upstream.test/", nil)
	if err != nil {
		return "", err
	}
	resp, err := h.roundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// held is a handler that answers once released, and tells when each
// request has arrived.
type held struct {
	arrived chan struct{}
	release chan struct{}
}

func newHeld() *held { return &held{arrived: make(chan struct{}, 100), release: make(chan struct{})} }

func (h *held) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.arrived <- struct{}{}
	<-h.release
	io.WriteString(w, "ok")
}

func TestH2PoolRetiring(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		limits Limits
		conn   h2Conn
		want   bool
	}{
		{"no limits", Limits{}, h2Conn{uses: 1000, born: now.Add(-24 * time.Hour)}, false},
		{"below maxRequestsPerConnection", Limits{MaxRequestsPerConn: 3}, h2Conn{uses: 2, born: now}, false},
		{"at maxRequestsPerConnection", Limits{MaxRequestsPerConn: 3}, h2Conn{uses: 3, born: now}, true},
		{"younger than maxConnectionDuration", Limits{MaxConnDuration: time.Hour}, h2Conn{uses: 1, born: now.Add(-time.Minute)}, false},
		{"older than maxConnectionDuration", Limits{MaxConnDuration: time.Hour}, h2Conn{uses: 1, born: now.Add(-time.Hour)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &h2Pool{limits: tt.limits}
			if got := h.retiring(&tt.conn); got != tt.want {
				t.Errorf("retiring = %v, want %v", got, tt.want)
			}
		})
	}
}

// notProcessed tells the errors after which the upstream never saw the
// request, which may then be sent again safely.
func TestH2NotProcessed(t *testing.T) {
	tests := []struct {
		err  string
		want bool
	}{
		{"stream error: stream ID 3; REFUSED_STREAM", true},
		{"http2: client conn not usable", true},
		{"http2: Transport received Server's graceful shutdown GOAWAY", true},
		{"http2: client conn could not be established", true},
		{"stream error: stream ID 3; INTERNAL_ERROR", false},
		{"http2: server sent GOAWAY and closed the connection; LastStreamID=5, ErrCode=NO_ERROR, debug=\"\"", false},
		{"unexpected EOF", false},
	}
	for _, tt := range tests {
		if got := notProcessed(errors.New(tt.err)); got != tt.want {
			t.Errorf("notProcessed(%q) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// Requests share one HTTP/2 connection; only one request opens a
// connection at a time, the others waiting for it rather than dialing.
func TestH2PoolSharesOneConnection(t *testing.T) {
	hd := newHeld()
	h, u := newTestH2Pool(t, Limits{}, hd.ServeHTTP)
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			body, err := h2Get(t.Context(), h)
			if err == nil && body != "ok" {
				err = fmt.Errorf("body %q", body)
			}
			errs <- err
		})
	}
	for range n {
		<-hd.arrived
	}
	close(hd.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if u.dials() != 1 || h.pool.open.Load() != 1 {
		t.Errorf("%d requests at once: %d dials, %d open; want 1 and 1", n, u.dials(), h.pool.open.Load())
	}
}

// With maxConnections, a request finding every connection full or
// retiring waits for room, and gives up with its context. In a synctest
// bubble, so that synctest.Wait tells when a request is waiting.
func TestH2PoolWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hd := newHeld()
		// One request per connection, one connection: the second request
		// waits for the first to end and its connection to retire.
		h, u := newTestH2Pool(t, Limits{MaxConnections: 1, MaxRequestsPerConn: 1}, hd.ServeHTTP)
		first := make(chan error, 1)
		go func() {
			_, err := h2Get(t.Context(), h)
			first <- err
		}()
		<-hd.arrived

		ctx, cancel := context.WithCancelCause(t.Context())
		gaveUp := errors.New("client went away")
		waiting := make(chan error, 1)
		go func() {
			_, err := h2Get(ctx, h)
			waiting <- err
		}()
		synctest.Wait()
		cancel(gaveUp)
		if err := <-waiting; !errors.Is(err, gaveUp) {
			t.Errorf("a request given up while waiting: %v, want %v", err, gaveUp)
		}
		if u.dials() != 1 {
			t.Fatalf("%d dials while the only connection was busy, want 1", u.dials())
		}

		second := make(chan error, 1)
		go func() {
			_, err := h2Get(t.Context(), h)
			second <- err
		}()
		synctest.Wait()
		if u.dials() != 1 {
			t.Fatalf("%d dials while the only connection was busy, want 1", u.dials())
		}
		close(hd.release)
		if err := <-first; err != nil {
			t.Fatalf("first request: %v", err)
		}
		if err := <-second; err != nil {
			t.Fatalf("the waiting request: %v", err)
		}
		if u.dials() != 2 {
			t.Errorf("%d dials, want 2: the retired connection replaced once", u.dials())
		}
	})
}

func TestH2PoolErrors(t *testing.T) {
	t.Run("a failed dial is a connect error, and the next request dials again", func(t *testing.T) {
		h, u := newTestH2Pool(t, Limits{}, func(http.ResponseWriter, *http.Request) {})
		refused := errors.New("connection refused")
		u.fail = refused
		for range 2 {
			_, err := h2Get(t.Context(), h)
			var ce *ConnectError
			if !errors.As(err, &ce) || !errors.Is(err, refused) {
				t.Fatalf("got %v, want a connect error wrapping %v", err, refused)
			}
		}
		if h.pool.open.Load() != 0 {
			t.Errorf("%d open after failed dials", h.pool.open.Load())
		}
		u.fail = nil
		if _, err := h2Get(t.Context(), h); err != nil {
			t.Errorf("once the upstream accepts: %v", err)
		}
	})
	t.Run("a closed pool refuses requests and closes its idle connections", func(t *testing.T) {
		h, u := newTestH2Pool(t, Limits{}, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
		if _, err := h2Get(t.Context(), h); err != nil {
			t.Fatal(err)
		}
		h.pool.close()
		if h.pool.open.Load() != 0 {
			t.Errorf("after close: %d open, want the idle connection closed", h.pool.open.Load())
		}
		_, err := h2Get(t.Context(), h)
		var ce *ConnectError
		if !errors.As(err, &ce) {
			t.Errorf("after close: %v, want a connect error", err)
		}
		if u.dials() != 1 {
			t.Errorf("after close: %d dials, want none more", u.dials())
		}
	})
}
