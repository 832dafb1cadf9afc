package gateway

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of upstream connection pools.
const (
	// maxIdlePerEndpoint bounds the idle keep-alive connections kept per
	// endpoint; a gateway needs far more than http.Transport's default 2.
	maxIdlePerEndpoint = 512
	// idleConnTimeout drops pooled connections unused for this long.
	idleConnTimeout = 90 * time.Second
	// probeIdleAfter is how long a pooled connection may sit idle before it
	// is checked for a close by the upstream before reuse.
	probeIdleAfter = time.Second
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// poolKey identifies an upstream connection pool: the address dialed and
// how connections to it are made.
type poolKey struct {
	addr string
}

// poolSet owns every upstream connection pool. Pools outlive snapshots: a
// reload that keeps an endpoint keeps its warm connections.
type poolSet struct {
	dial  DialFunc
	mu    sync.Mutex
	pools map[poolKey]*connPool
}

func newPoolSet(dial DialFunc) *poolSet {
	return &poolSet{dial: dial, pools: map[poolKey]*connPool{}}
}

// get returns the pool for k, creating it if needed.
func (s *poolSet) get(k poolKey) *connPool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pools[k]
	if p == nil {
		network, addr := "tcp", k.addr
		if rest, ok := strings.CutPrefix(k.addr, "unix://"); ok {
			network, addr = "unix", rest
		}
		p = &connPool{key: k, network: network, addr: addr, dial: s.dial}
		s.pools[k] = p
	}
	return p
}

// retain closes every pool not in keep. Requests still using a closed pool
// finish; their connections are closed instead of pooled.
func (s *poolSet) retain(keep map[*connPool]bool) {
	s.mu.Lock()
	var drop []*connPool
	for k, p := range s.pools {
		if !keep[p] {
			delete(s.pools, k)
			drop = append(drop, p)
		}
	}
	s.mu.Unlock()
	for _, p := range drop {
		p.close()
	}
}

// closeAll closes every pool.
func (s *poolSet) closeAll() { s.retain(nil) }

// connPool keeps idle HTTP/1.1 connections to one upstream address.
type connPool struct {
	key     poolKey
	network string
	addr    string
	dial    DialFunc

	active atomic.Int64 // requests in flight, for least-request balancing

	mu     sync.Mutex
	idle   []*h1Conn // most recently used last
	closed bool
}

// get returns an idle connection that still looks alive, or dials a new
// one within timeout.
func (p *connPool) get(ctx context.Context, timeout time.Duration) (*h1Conn, error) {
	for {
		pc := p.popIdle()
		if pc == nil {
			break
		}
		if pc.alive() {
			return pc, nil
		}
		pc.close()
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := p.dial(dctx, p.network, p.addr)
	if err != nil {
		return nil, &connectError{err: err}
	}
	return newH1Conn(p, nc), nil
}

func (p *connPool) popIdle() *h1Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		pc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if time.Since(pc.idleAt) < idleConnTimeout {
			return pc
		}
		go pc.close()
	}
	return nil
}

// put returns a connection whose last exchange completed cleanly.
func (p *connPool) put(pc *h1Conn) {
	pc.idleAt = time.Now()
	pc.reused = true
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdlePerEndpoint {
		p.mu.Unlock()
		pc.close()
		return
	}
	p.idle = append(p.idle, pc)
	p.mu.Unlock()
}

// close closes the idle connections and stops pooling.
func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// idleCount returns the number of pooled idle connections.
func (p *connPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
