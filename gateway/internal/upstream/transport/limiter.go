package transport

import (
	"context"
	"slices"
	"sync"
)

// Limiter enforces a cluster's tcp.maxConnections and
// http.http1MaxPendingRequests across the pools of its endpoints: at most
// max connections are open, requests that find none free wait in a queue
// of at most maxPending (0: unbounded), and the rest are refused with
// errOverflow, as Envoy's circuit breakers do.
type Limiter struct {
	max, maxPending int

	mu      sync.Mutex
	open    int
	waiters []*connWaiter
}

// connWaiter is a request queued for a connection. It receives either a
// connection of its pool that just finished an exchange, or nil: a slot to
// dial a new one.
type connWaiter struct {
	pool *Pool
	ch   chan *h1Conn
}

// acquire is called when pool p has no idle connection. It returns
// (nil, nil) when the caller may dial (a slot is reserved for it), a
// connection handed over by another request, or an error: errOverflow
// when the queue is full, or the cause of ctx ending.
func (l *Limiter) acquire(ctx context.Context, p *Pool) (*h1Conn, error) {
	l.mu.Lock()
	// A pool without any connection may always open one, as Envoy does:
	// otherwise idle connections to one endpoint could hold every slot
	// while requests for another wait forever.
	if l.open < l.max || p.open.Load() == 0 {
		l.open++
		p.open.Add(1) // counted from the dial on, so concurrent requests see it
		l.mu.Unlock()
		return nil, nil
	}
	// A connection put back since the caller found none idle was pooled,
	// nobody waiting yet (handOff pools under l.mu): take it rather than
	// wait for another request to end.
	if pc := p.popIdle(); pc != nil {
		l.mu.Unlock()
		return pc, nil
	}
	if l.maxPending > 0 && len(l.waiters) >= l.maxPending {
		l.mu.Unlock()
		return nil, ErrOverflow
	}
	w := &connWaiter{pool: p, ch: make(chan *h1Conn, 1)}
	l.waiters = append(l.waiters, w)
	l.mu.Unlock()
	select {
	case pc := <-w.ch:
		if pc == nil {
			p.open.Add(1) // a slot to dial with
		}
		return pc, nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	i := slices.Index(l.waiters, w)
	if i >= 0 {
		l.waiters = slices.Delete(l.waiters, i, i+1)
	}
	l.mu.Unlock()
	if i < 0 {
		// Served while giving up: pass on what we were given.
		if pc := <-w.ch; pc != nil {
			p.put(pc)
		} else {
			l.release() // the slot goes to the next waiter, or back
		}
	}
	return nil, context.Cause(ctx)
}

// handOff gives pc, whose exchange just ended, to a request of the same
// pool waiting for a connection, or else pools it as idle; both under
// l.mu, so that a request about to wait (acquire) either finds it idle or
// is handed it. It reports false when pc was neither handed on nor pooled
// (the pool is closed or full): the caller closes it.
func (l *Limiter) handOff(p *Pool, pc *h1Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, w := range l.waiters {
		if w.pool == p {
			l.waiters = slices.Delete(l.waiters, i, i+1)
			w.ch <- pc // buffered: never blocks
			return true
		}
	}
	return p.pool(pc)
}

// release frees the slot of a closed connection (or a failed dial): the
// first waiting request may dial in its place.
func (l *Limiter) release() {
	l.mu.Lock()
	if len(l.waiters) > 0 {
		w := l.waiters[0]
		l.waiters = l.waiters[1:]
		l.mu.Unlock()
		w.ch <- nil
		return
	}
	l.open--
	l.mu.Unlock()
}
