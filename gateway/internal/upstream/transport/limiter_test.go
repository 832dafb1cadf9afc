package transport

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// queued returns the number of requests waiting for a connection.
func queued(l *Limiter) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.waiters)
}

// slots returns the connections the limiter counts as open.
func slots(l *Limiter) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// result is what a get in the background returned.
type result struct {
	pc  *h1Conn
	err error
}

// getAsync takes a connection from p in the background.
func getAsync(ctx context.Context, p *Pool) <-chan result {
	ch := make(chan result, 1)
	go func() {
		pc, err := p.get(ctx, time.Second, false)
		ch <- result{pc, err}
	}()
	return ch
}

// The limiter enforces tcp.maxConnections and http1MaxPendingRequests
// across the pools of a cluster's endpoints, as Envoy's circuit breakers
// do. The tests run in a synctest bubble: synctest.Wait returns once every
// request that must wait is waiting.
func TestLimiter(t *testing.T) {
	t.Run("a queue beyond maxConnections; a finished request's connection goes to the first in it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			u := &testUpstream{}
			l := &Limiter{max: 2}
			p := newTestPool(t, u, Limits{MaxConnections: 2}, l)
			a, b := mustGet(t, p, false), mustGet(t, p, false)
			first := getAsync(t.Context(), p)
			synctest.Wait()
			second := getAsync(t.Context(), p)
			synctest.Wait()
			if u.dials() != 2 || queued(l) != 2 {
				t.Fatalf("at the limit: %d dials, %d waiting; want 2 and 2", u.dials(), queued(l))
			}
			p.put(b)
			if r := <-first; r.err != nil || r.pc != b {
				t.Fatalf("the first waiting request got %v, %v; want the connection put back", r.pc, r.err)
			}
			p.put(a)
			if r := <-second; r.err != nil || r.pc != a {
				t.Fatalf("the second waiting request got %v, %v; want the connection put back", r.pc, r.err)
			}
			if u.dials() != 2 || p.IdleCount() != 0 || slots(l) != 2 {
				t.Errorf("%d dials, %d idle, %d slots; want 2, 0, 2", u.dials(), p.IdleCount(), slots(l))
			}
		})
	})
	t.Run("http1MaxPendingRequests bounds the queue", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			u := &testUpstream{}
			l := &Limiter{max: 1, maxPending: 1}
			p := newTestPool(t, u, Limits{MaxConnections: 1, MaxPending: 1}, l)
			a := mustGet(t, p, false)
			waiting := getAsync(t.Context(), p)
			synctest.Wait()
			if _, err := p.get(t.Context(), time.Second, false); !errors.Is(err, ErrOverflow) {
				t.Fatalf("with the queue full: %v, want %v", err, ErrOverflow)
			}
			p.put(a)
			if r := <-waiting; r.pc != a {
				t.Fatalf("the waiting request got %v, %v", r.pc, r.err)
			}
		})
	})
	t.Run("a closed connection's slot goes to the first in the queue", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			u := &testUpstream{}
			l := &Limiter{max: 1}
			p := newTestPool(t, u, Limits{MaxConnections: 1}, l)
			a := mustGet(t, p, false)
			waiting := getAsync(t.Context(), p)
			synctest.Wait()
			a.close() // Connection: close, or a failed exchange
			r := <-waiting
			if r.err != nil || r.pc == nil || r.pc == a {
				t.Fatalf("the waiting request got %v, %v; want a new connection", r.pc, r.err)
			}
			if u.dials() != 2 || slots(l) != 1 || p.open.Load() != 1 {
				t.Errorf("%d dials, %d slots, %d open; want 2, 1, 1", u.dials(), slots(l), p.open.Load())
			}
			r.pc.close()
			if slots(l) != 0 || p.open.Load() != 0 {
				t.Errorf("all closed: %d slots, %d open", slots(l), p.open.Load())
			}
		})
	})
	t.Run("an endpoint without connections always gets one", func(t *testing.T) {
		// Otherwise another endpoint's idle connections could hold every
		// slot while this one's requests wait forever (Envoy does the same).
		synctest.Test(t, func(t *testing.T) {
			u := &testUpstream{}
			l := &Limiter{max: 1}
			pa := newTestPool(t, u, Limits{MaxConnections: 1}, l)
			pb := newTestPool(t, u, Limits{MaxConnections: 1}, l)
			pa.put(mustGet(t, pa, false)) // idle, holding the only slot
			b := mustGet(t, pb, false)
			if u.dials() != 2 || slots(l) != 2 {
				t.Fatalf("%d dials, %d slots; want 2 and 2", u.dials(), slots(l))
			}
			// A second request to b's endpoint waits for b, and a
			// connection of the other endpoint is not handed to it.
			waiting := getAsync(t.Context(), pb)
			synctest.Wait()
			pa.put(mustGet(t, pa, false))
			synctest.Wait()
			if queued(l) != 1 || pa.IdleCount() != 1 {
				t.Fatalf("another endpoint's connection: %d waiting, %d idle there; want 1 and 1", queued(l), pa.IdleCount())
			}
			pb.put(b)
			if r := <-waiting; r.pc != b {
				t.Fatalf("the waiting request got %v, %v; want its endpoint's connection", r.pc, r.err)
			}
		})
	})
	t.Run("a connection put back as a request starts to wait is not missed", func(t *testing.T) {
		// The interleaving of two requests, one step at a time: the
		// second finds no idle connection; the first then puts its
		// connection back, with nobody waiting yet; the second then joins
		// the queue. It must take that connection, not wait for another
		// request to end (with light traffic, until the idle connection
		// times out, 90 s by default).
		synctest.Test(t, func(t *testing.T) {
			u := &testUpstream{}
			l := &Limiter{max: 1}
			p := newTestPool(t, u, Limits{MaxConnections: 1}, l)
			a := mustGet(t, p, false)
			if p.popIdle() != nil { // the second request's look
				t.Fatal("an idle connection before any was put back")
			}
			p.put(a) // the first request ends
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ch := make(chan result, 1)
			go func() {
				pc, err := l.acquire(ctx, p) // the second request
				ch <- result{pc, err}
			}()
			synctest.Wait()
			select {
			case r := <-ch:
				if r.err != nil || r.pc != a {
					t.Errorf("the second request got %v, %v; want the connection put back", r.pc, r.err)
				}
			default:
				t.Errorf("the second request waits while a connection is idle (%d idle)", p.IdleCount())
				cancel()
				<-ch
			}
		})
	})
	t.Run("a request that gives up leaves the queue", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			u := &testUpstream{}
			l := &Limiter{max: 1}
			p := newTestPool(t, u, Limits{MaxConnections: 1}, l)
			a := mustGet(t, p, false)
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			waiting := getAsync(ctx, p)
			synctest.Wait()
			time.Sleep(time.Second)
			if r := <-waiting; !errors.Is(r.err, context.DeadlineExceeded) {
				t.Fatalf("after its timeout the waiting request got %v, %v", r.pc, r.err)
			}
			if queued(l) != 0 {
				t.Fatalf("%d still waiting", queued(l))
			}
			a.close()
			if slots(l) != 0 || u.dials() != 1 {
				t.Errorf("the slot went to the request that gave up: %d slots, %d dials", slots(l), u.dials())
			}
		})
	})
	t.Run("a request served as it gives up passes on what it was given", func(t *testing.T) {
		// The connection (or the slot) and the cancellation arrive
		// together; whichever the request sees, nothing is lost.
		for i := range 20 {
			synctest.Test(t, func(t *testing.T) {
				u := &testUpstream{}
				l := &Limiter{max: 1}
				p := newTestPool(t, u, Limits{MaxConnections: 1}, l)
				a := mustGet(t, p, false)
				ctx, cancel := context.WithCancel(t.Context())
				waiting := getAsync(ctx, p)
				synctest.Wait()
				closeIt := i%2 == 1
				cancel()
				if closeIt {
					a.close() // a slot rather than a connection
				} else {
					p.put(a)
				}
				r := <-waiting
				switch {
				case r.err == nil && r.pc != nil:
					r.pc.close()
				case errors.Is(r.err, context.Canceled):
					p.close()
				default:
					t.Fatalf("got %v, %v", r.pc, r.err)
				}
				if slots(l) != 0 || p.open.Load() != 0 || queued(l) != 0 {
					t.Errorf("everything closed: %d slots, %d open, %d waiting", slots(l), p.open.Load(), queued(l))
				}
			})
		}
	})
}
