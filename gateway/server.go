package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// Server is a running gatehouse: listeners, the current snapshot, upstream
// pools and the config watcher.
type Server struct {
	opts  Options
	log   *slog.Logger
	snap  atomic.Pointer[Snapshot] // the only state the request path reads
	pools *transport.PoolSet
	// pipe serves the requests and forwarded connections.
	pipe *proxy.Pipeline
	// keySets fetches remote JWT key sets for every generation; it lives
	// as long as the server.
	keySets *authz.KeySets
	ready   atomic.Bool
	up      chan struct{} // closed once Run has bound the listeners

	reloadMu sync.Mutex // serialises reloads
	status   reloadStatus
	cache    *loadCache // guarded by reloadMu

	mu        sync.Mutex // guards listeners; never taken on the request path
	listeners map[listener.Key]*listener.Listener
	closing   bool // set at shutdown: no reload binds anything any more
	draining  sync.WaitGroup

	metrics   *metrics.Metrics   // Prometheus metrics, served on the admin address
	idle      listener.IdleConns // keep-alive connections waiting for a request
	edge      *listener.Deps     // what the listeners need of the server
	adminAddr atomic.Value       // net.Addr of the admin listener
	// refusalLog limits the warnings about refused connections and
	// requests (PROXY headers, requests the parser refuses).
	refusalLog *listener.LogLimiter
	// requests is the context every downstream request descends from. It
	// is cancelled once shutdown has drained what it could, so that no
	// request outlives Run waiting on an upstream.
	requests     context.Context
	stopRequests context.CancelFunc
}

// New loads and compiles the configuration. It binds nothing: Run does. An
// invalid configuration returns a *ConfigError listing every problem.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HeaderTimeout == 0 {
		opts.HeaderTimeout = DefaultHeaderTimeout
	}
	if opts.Settle == 0 {
		opts.Settle = DefaultSettle
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 15 * time.Second
	}
	if opts.Dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		opts.Dial = d.DialContext
	}
	if opts.Listen == nil {
		var lc net.ListenConfig
		opts.Listen = lc.Listen
	}
	s := &Server{opts: opts, log: opts.Logger, listeners: map[listener.Key]*listener.Listener{}, up: make(chan struct{})}
	s.requests, s.stopRequests = context.WithCancel(context.Background())
	s.metrics = newMetrics(s)
	s.refusalLog = listener.NewLogLimiter(time.Second, 20)
	s.pipe = &proxy.Pipeline{Current: func() *proxy.Generation { return &s.snap.Load().Generation }, Log: s.log, Metrics: s.metrics,
		Engine: transport.LeanEngine{}, RefusalLog: s.refusalLog}
	s.pipe.Hostname, _ = os.Hostname()
	if opts.StdUpstream {
		s.pipe.Engine = transport.NewStdEngine(opts.Dial)
	}
	s.edge = s.listenerDeps()
	s.cache = newLoadCache()
	s.pools = transport.NewPoolSet(opts.Dial)
	s.keySets = authz.NewKeySets(context.Background(), authz.KeySetOptions{Logger: s.log})
	snap, err := s.load()
	if err == nil {
		err = s.attachAccessLog(snap)
	}
	if err != nil {
		s.keySets.Close()
		s.stopRequests()
		return nil, err
	}
	snap.Gen = 1
	s.snap.Store(snap)
	s.status.success(snap)
	s.auditSecurity(nil, snap)
	debug.FreeOSMemory()
	return s, nil
}

// load reads and compiles the configuration, logging what was skipped and
// every warning.
func (s *Server) load() (*Snapshot, error) {
	files, err := config.ReadSources(s.opts.ConfigPaths)
	if err != nil {
		return nil, &ConfigError{Problems: []Problem{{Err: err}}}
	}
	return s.compileFiles(files)
}

// compileFiles compiles files read by readSources, logging what was
// skipped and every warning.
func (s *Server) compileFiles(files []config.File) (*Snapshot, error) {
	snap, d := compile(files, compileEnv{pools: s.pools, credentialsDir: s.opts.CredentialsDir, cache: s.cache, keySets: s.keySets, log: s.log})
	for _, n := range d.Notes {
		s.log.Info(n)
	}
	for _, p := range d.Problems.List {
		if p.Warning {
			s.log.Warn("config: " + p.String())
		}
	}
	if d.Problems.ErrorCount() > 0 {
		return nil, &ConfigError{Problems: d.Problems.List}
	}
	return snap, nil
}

// Snapshot returns the configuration currently served.
func (s *Server) Snapshot() *Snapshot { return s.snap.Load() }

// Reload reads the configuration again and, if it is valid and changed,
// swaps it in. An invalid configuration is logged, recorded for the admin
// endpoint and returned; the previous one keeps serving.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	err := s.reload()
	// A rejected candidate may have started key set fetchers: keep only
	// those the served generation uses.
	s.keySets.Retain(s.snap.Load().Authz.KeySetURIs())
	// A load allocates many times what the compiled configuration keeps;
	// hand that back to the system now rather than over minutes.
	debug.FreeOSMemory()
	s.log.Debug("reload done", "took", time.Since(start))
	if s.opts.OnReload != nil {
		s.opts.OnReload(s.snap.Load().Gen, err)
	}
	return err
}

func (s *Server) reload() error {
	cur := s.snap.Load()
	files, err := config.ReadSources(s.opts.ConfigPaths)
	if err == nil && config.Digest(files, cur.certFiles) == cur.Digest {
		// The files are the served ones again (a broken file removed or
		// reverted): the last attempt's errors no longer apply.
		s.status.unchanged()
		return nil
	}
	var next *Snapshot
	if err != nil {
		err = &ConfigError{Problems: []Problem{{Err: err}}}
	} else {
		next, err = s.compileFiles(files)
	}
	if err == nil {
		err = s.attachAccessLog(next)
	}
	if err == nil {
		next.Gen = cur.Gen + 1
		err = s.apply(next)
		if err != nil && next.AccessLog != cur.AccessLog {
			next.AccessLog.Close()
		}
	}
	s.metrics.Reloaded(err == nil)
	if err != nil {
		s.status.failure(err)
		s.log.Error("reload rejected; the previous configuration keeps serving", "generation", cur.Gen, "error", err.Error())
		return err
	}
	s.status.success(next)
	s.auditSecurity(cur, next)
	retireAccessLog(cur, next)
	s.log.Info("configuration reloaded", "generation", next.Gen, "listeners", len(next.Listeners), "clusters", len(next.Clusters),
		"took", time.Since(next.Loaded.Add(-next.compileTime)).Round(time.Millisecond))
	return nil
}

// Addr returns the address a Gateway port is served on, or nil if no
// listener serves it. With several binds for one port it returns any.
func (s *Server) Addr(port uint32) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, l := range s.listeners {
		if k.Port == port {
			return l.Addr()
		}
	}
	return nil
}

// Serving returns a channel closed once Run has bound the listeners.
func (s *Server) Serving() <-chan struct{} { return s.up }

// Ready reports whether the configuration is loaded and the listeners are
// accepting connections.
func (s *Server) Ready() bool { return s.ready.Load() }

// Run binds the listeners, serves, watches the configuration and, when ctx
// ends, drains in-flight requests for up to DrainTimeout. It returns when
// everything it started has stopped.
func (s *Server) Run(ctx context.Context) error {
	if err := s.apply(s.snap.Load()); err != nil {
		return err
	}
	var wg sync.WaitGroup
	admin, err := s.startAdmin(&wg)
	if err != nil {
		s.closeListeners(context.Background())
		return err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	wg.Go((&config.Watcher{Paths: s.opts.ConfigPaths, Settle: s.opts.Settle, Log: s.log, Reload: func() { s.Reload() },
		CertFiles: func() []string { return s.snap.Load().certFiles }}).Start(watchCtx))
	wg.Go(func() { s.reapIdle(watchCtx) })
	s.ready.Store(true)
	close(s.up)
	s.log.Info("gatehouse serving", "listeners", s.listenerAddrs(), "admin", s.opts.AdminAddr)
	<-ctx.Done()
	s.ready.Store(false)
	stopWatch()
	s.delayDrain()
	s.log.Info("shutting down: draining in-flight requests", "timeout", s.opts.DrainTimeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
	defer cancel()
	s.closeListeners(drainCtx)
	s.draining.Wait()
	s.pipe.CloseTunnels(drainCtx)
	s.stopRequests() // what the drain could not finish ends now
	if admin != nil {
		admin.Close()
	}
	wg.Wait()
	s.pools.CloseAll()
	s.keySets.Close()
	s.snap.Load().AccessLog.Close()
	return nil
}

func (s *Server) listenerAddrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.listeners {
		out = append(out, l.Addr().String())
	}
	return sortStrings(out)
}

// listenAddr returns the network and address to listen on for key.
func (s *Server) listenAddr(k listener.Key) (string, string) {
	if s.opts.ListenAddr != nil {
		a := s.opts.ListenAddr(k.Bind, k.Port)
		if p, ok := strings.CutPrefix(a, "unix://"); ok {
			return "unix", p
		}
		return "tcp", a
	}
	if p, ok := strings.CutPrefix(k.Bind, "unix://"); ok {
		return "unix", strings.TrimPrefix(p, "@")
	}
	return "tcp", net.JoinHostPort(k.Bind, strconv.Itoa(int(k.Port)))
}

// apply binds the listeners next needs, publishes it, then closes the
// listeners and upstream pools it no longer uses. A bind failure rejects
// next before anything changes.
func (s *Server) apply(next *Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errShuttingDown
	}
	var opened []*listener.Listener
	for k := range next.Listeners {
		if s.listeners[k] != nil {
			continue
		}
		l, err := s.bind(k)
		if err != nil {
			for _, o := range opened {
				o.Close()
			}
			return fmt.Errorf("listening for port %d: %w", k.Port, err)
		}
		opened = append(opened, l)
	}
	s.snap.Store(next)
	for _, l := range opened {
		s.listeners[l.Key()] = l
		go l.Serve()
	}
	for k, l := range s.listeners {
		if next.Listeners[k] == nil {
			delete(s.listeners, k)
			l.Close() // stop accepting now; in-flight requests drain below
			s.log.Info("closing listener removed from the configuration; draining its requests", "port", k.Port)
			s.draining.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
				defer cancel()
				l.Drain(ctx)
			})
		}
	}
	s.pools.Retain(next.pools)
	return nil
}

// closeListeners stops accepting everywhere and drains every listener
// until ctx ends.
func (s *Server) closeListeners(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for k, l := range s.listeners {
		delete(s.listeners, k)
		s.draining.Go(func() { l.Drain(ctx) })
	}
}

var errShuttingDown = errors.New("shutting down")

// reapIdle closes expired idle upstream connections, checking often enough
// for the shortest idle timeout (see reapInterval).
func (s *Server) reapIdle(ctx context.Context) {
	every := s.pools.ReapInterval()
	due := time.Now().Add(every)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.pools.Added():
			// A new pool may want an earlier check; never postpone one.
			if every = s.pools.ReapInterval(); time.Now().Add(every).Before(due) {
				due = time.Now().Add(every)
				t.Reset(every)
			}
		case now := <-t.C:
			s.pools.Reap(now)
			every = s.pools.ReapInterval()
			due = time.Now().Add(every)
			t.Reset(every)
		}
	}
}

// sortStrings sorts s in place and returns it.
func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
