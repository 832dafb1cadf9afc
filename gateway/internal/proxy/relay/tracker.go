package relay

import (
	"context"
	"io"
	"sync"
)

// Tracker holds connections that http.Server.Shutdown does not know about
// (hijacked for WebSocket tunnels), so that shutdown can close them.
type Tracker struct {
	mu     sync.Mutex
	conns  map[io.Closer]struct{}
	empty  chan struct{} // closed while there are no connections
	closed bool          // closeAll ran: new connections are closed at once
}

// Add tracks c; after closeAll it closes c instead.
func (t *Tracker) Add(c io.Closer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return
	}
	if t.conns == nil {
		t.conns = map[io.Closer]struct{}{}
	}
	if len(t.conns) == 0 {
		t.empty = make(chan struct{})
	}
	t.conns[c] = struct{}{}
}

func (t *Tracker) Remove(c io.Closer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.conns[c]; !ok {
		return
	}
	delete(t.conns, c)
	if len(t.conns) == 0 {
		close(t.empty)
	}
}

// Wait returns when no connection is tracked or ctx ends.
func (t *Tracker) Wait(ctx context.Context) {
	t.mu.Lock()
	empty := t.empty
	n := len(t.conns)
	t.mu.Unlock()
	if n == 0 {
		return
	}
	select {
	case <-empty:
	case <-ctx.Done():
	}
}

// CloseAll closes every tracked connection.
func (t *Tracker) CloseAll() {
	t.mu.Lock()
	conns := t.conns
	t.conns, t.closed = nil, true
	t.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// Len returns how many connections are tracked.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}
