package transport

import (
	"context"
	"crypto/tls"
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
	// is checked (one non-blocking peek) for a close by the upstream.
	probeIdleAfter = 100 * time.Millisecond
	// Idle connections are reaped every quarter of the shortest idle
	// timeout of any pool, within these bounds, so that one is closed soon
	// after its timeout rather than at the next 30 s tick.
	minReapInterval = 100 * time.Millisecond
	maxReapInterval = 30 * time.Second
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// PoolKey identifies an upstream connection pool: the address dialed and
// how connections to it are made. Clusters whose settings agree share a
// pool, and so its warm connections.
type PoolKey struct {
	Addr     string
	TLS      string // identity of the upstream TLS settings, "" for plaintext
	H2       bool   // HTTP/2 (h2c without TLS)
	Settings string // connection-pool settings; with a connection limit, also the cluster
}

// PoolOptions are what a new pool needs beyond its key.
type PoolOptions struct {
	TLS     *tls.Config
	Limits  Limits
	Limiter *Limiter
}

// PoolSet owns every upstream connection pool. Pools outlive snapshots: a
// reload that keeps an endpoint keeps its warm connections.
type PoolSet struct {
	dial     DialFunc
	mu       sync.Mutex
	pools    map[PoolKey]*Pool
	limiters map[string]*Limiter
	// added is signalled when a pool is created, so that the reaper can
	// shorten its interval for the new pool's idle timeout.
	added chan struct{}
}

func NewPoolSet(dial DialFunc) *PoolSet {
	return &PoolSet{dial: dial, pools: map[PoolKey]*Pool{}, limiters: map[string]*Limiter{}, added: make(chan struct{}, 1)}
}

// Get returns the pool for k, creating it with opts if needed.
func (s *PoolSet) Get(k PoolKey, opts PoolOptions) *Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pools[k]; p != nil {
		return p
	}
	network, addr := "tcp", k.Addr
	if rest, ok := strings.CutPrefix(k.Addr, "unix://"); ok {
		network, addr = "unix", rest
	}
	p := &Pool{key: k, network: network, addr: addr, dial: s.dial, tls: opts.TLS, limits: opts.Limits, limiter: opts.Limiter}
	if k.H2 {
		p.h2 = p.newH2()
	}
	s.pools[k] = p
	select {
	case s.added <- struct{}{}:
	default:
	}
	return p
}

// Limiter returns the connection Limiter shared by the pools of one
// cluster, keyed by the cluster and its limits.
func (s *PoolSet) Limiter(key string, l Limits) *Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.limiters[key]; c != nil {
		return c
	}
	c := &Limiter{max: l.MaxConnections, maxPending: l.MaxPending}
	s.limiters[key] = c
	return c
}

// Retain closes every pool not in keep. Requests still using a closed pool
// finish; their connections are closed instead of pooled.
func (s *PoolSet) Retain(keep map[*Pool]bool) {
	s.mu.Lock()
	var drop []*Pool
	for k, p := range s.pools {
		if !keep[p] {
			delete(s.pools, k)
			drop = append(drop, p)
		}
	}
	live := map[*Limiter]bool{}
	for _, p := range s.pools {
		live[p.limiter] = true
	}
	for k, l := range s.limiters {
		if !live[l] {
			delete(s.limiters, k)
		}
	}
	s.mu.Unlock()
	for _, p := range drop {
		p.close()
	}
}

// CloseAll closes every pool.
func (s *PoolSet) CloseAll() { s.Retain(nil) }

// Reap closes the idle connections that have outlived their pool's idle
// timeout, so that they neither linger nor hold a cluster's connection
// slots.
func (s *PoolSet) Reap(now time.Time) {
	s.mu.Lock()
	pools := make([]*Pool, 0, len(s.pools))
	for _, p := range s.pools {
		pools = append(pools, p)
	}
	s.mu.Unlock()
	for _, p := range pools {
		if p.h2 != nil {
			p.h2.prune() // connections closed by their idle timeout or a GOAWAY
		}
		p.mu.Lock()
		keep := p.idle[:0]
		var stale []*h1Conn
		for _, pc := range p.idle {
			if now.Sub(pc.idleAt) >= p.idleTimeout() {
				stale = append(stale, pc)
			} else {
				keep = append(keep, pc)
			}
		}
		clear(p.idle[len(keep):])
		p.idle = keep
		p.mu.Unlock()
		for _, pc := range stale {
			pc.close()
		}
	}
}

// ReapInterval is how often reap should run for the current pools.
func (s *PoolSet) ReapInterval() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	every := maxReapInterval
	for _, p := range s.pools {
		every = min(every, p.idleTimeout()/4)
	}
	return max(every, minReapInterval)
}

// Pool keeps idle connections to one upstream address: HTTP/1.1
// connections in idle, or HTTP/2 connections in h2.
type Pool struct {
	key     PoolKey
	network string
	addr    string
	dial    DialFunc
	tls     *tls.Config
	limits  Limits
	limiter *Limiter // nil: no connection limit
	h2      *h2Pool

	active atomic.Int64 // requests in flight, for dumps
	open   atomic.Int32 // connections open

	mu     sync.Mutex
	idle   []*h1Conn // most recently used last
	closed bool
}

// get returns an idle connection that still looks alive, or a new one
// (waiting for a slot when the cluster limits its connections). fresh
// skips the idle connections.
func (p *Pool) get(ctx context.Context, timeout time.Duration, fresh bool) (*h1Conn, error) {
	for !fresh {
		pc := p.popIdle()
		if pc == nil {
			break
		}
		if pc.alive() {
			return pc, nil
		}
		pc.close()
	}
	if p.limiter != nil {
		pc, err := p.limiter.acquire(ctx, p) // counts the dial in p.open
		if pc != nil || err != nil {
			return pc, err
		}
	} else {
		p.open.Add(1)
	}
	nc, err := p.Connect(ctx, timeout)
	if err != nil {
		p.open.Add(-1)
		if p.limiter != nil {
			p.limiter.release()
		}
		return nil, &ConnectError{Err: err}
	}
	return newH1Conn(p, nc), nil
}

// Connect dials the address and, for upstream TLS, completes the
// handshake, all within timeout.
func (p *Pool) Connect(ctx context.Context, timeout time.Duration) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := p.dial(dctx, p.network, p.addr)
	if err != nil || p.tls == nil {
		return nc, err
	}
	tc := tls.Client(nc, p.tls)
	if err := tc.HandshakeContext(dctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

func (p *Pool) popIdle() *h1Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		pc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if time.Since(pc.idleAt) < p.idleTimeout() && !p.tooOld(pc) {
			return pc
		}
		go pc.close()
	}
	return nil
}

// tooOld reports whether a connection has lived past the cluster's
// maxConnectionDuration: it serves no further request (Envoy's
// max_connection_duration drains it the same way).
func (p *Pool) tooOld(pc *h1Conn) bool {
	d := p.limits.MaxConnDuration
	return d > 0 && time.Since(pc.born) >= d
}

func (p *Pool) idleTimeout() time.Duration {
	if p.limits.IdleTimeout > 0 {
		return p.limits.IdleTimeout
	}
	return idleConnTimeout
}

// put returns a connection whose last exchange completed cleanly: to a
// request waiting for a connection of this pool, else to the idle list.
// With a limiter, both happen under its lock (see handOff).
func (p *Pool) put(pc *h1Conn) {
	pc.idleAt = time.Now()
	pc.reused = true
	if n := p.limits.MaxRequestsPerConn; n > 0 && pc.uses >= n || p.tooOld(pc) {
		pc.close()
		return
	}
	var pooled bool
	if p.limiter != nil {
		pooled = p.limiter.handOff(p, pc)
	} else {
		pooled = p.pool(pc)
	}
	if !pooled {
		pc.close()
	}
}

// pool adds pc to the idle connections, unless the pool is closed or
// full.
func (p *Pool) pool(pc *h1Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= maxIdlePerEndpoint {
		return false
	}
	p.idle = append(p.idle, pc)
	return true
}

// close closes the idle connections and stops pooling.
func (p *Pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
	if p.h2 != nil {
		p.h2.close()
	}
}

// IdleCount returns the number of pooled idle connections.
func (p *Pool) IdleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Added is signalled when a pool is created, so that the reaper can
// shorten its interval for the new pool's idle timeout.
func (s *PoolSet) Added() <-chan struct{} { return s.added }

// Active returns the number of requests in flight on the pool.
func (p *Pool) Active() int64 { return p.active.Load() }
