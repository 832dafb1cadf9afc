package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// reloadStatus records the outcome of the latest loads for the admin
// endpoints.
type reloadStatus struct {
	mu          sync.Mutex
	lastAttempt time.Time
	lastSuccess time.Time
	lastErrors  []string
	failures    uint64
}

func (st *reloadStatus) success(s *Snapshot) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.lastAttempt, st.lastSuccess, st.lastErrors = s.Loaded, s.Loaded, nil
}

// unchanged records an attempt that found the files of the served
// configuration: whatever the previous attempt rejected is gone.
func (st *reloadStatus) unchanged() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lastErrors != nil {
		st.lastAttempt, st.lastErrors = time.Now(), nil
	}
}

func (st *reloadStatus) failure(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.lastAttempt = time.Now()
	st.failures++
	st.lastErrors = nil
	if ce, ok := errors.AsType[*ConfigError](err); ok {
		for _, p := range ce.Problems {
			if !p.Warning {
				st.lastErrors = append(st.lastErrors, p.String())
			}
		}
		return
	}
	st.lastErrors = []string{err.Error()}
}

// reloadInfo is the reload part of the config dump.
type reloadInfo struct {
	LastAttempt time.Time `json:"last_attempt"`
	LastSuccess time.Time `json:"last_success"`
	OK          bool      `json:"ok"`
	Errors      []string  `json:"errors,omitempty"`
	Failures    uint64    `json:"failures"`
}

func (st *reloadStatus) info() reloadInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	return reloadInfo{LastAttempt: st.lastAttempt, LastSuccess: st.lastSuccess, OK: len(st.lastErrors) == 0,
		Errors: st.lastErrors, Failures: st.failures}
}

// startAdmin serves the admin endpoints on Options.AdminAddr.
func (s *Server) startAdmin(wg *sync.WaitGroup) (*http.Server, error) {
	if s.opts.AdminAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", s.opts.AdminAddr)
	if err != nil {
		return nil, err
	}
	s.adminAddr.Store(ln.Addr())
	srv := &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	// One descriptor in reserve, so health checks answer when the data
	// ports have used up every other one.
	reserve := listener.NewReserveListener(ln, func() {
		s.log.Warn("out of file descriptors: the admin port accepted a connection with its reserved descriptor")
	})
	wg.Go(func() { srv.Serve(reserve) })
	return srv, nil
}

// AdminAddr returns the address the admin endpoints listen on once Run
// has started them, or nil.
func (s *Server) AdminAddr() net.Addr {
	a, _ := s.adminAddr.Load().(net.Addr)
	return a
}

// AdminHandler returns the admin endpoints: /healthz/ready (200 once the
// configuration is loaded and the listeners accept), /config_dump (the
// compiled configuration and the latest reload's outcome, as JSON),
// /explain (how a described request would be served), and Istio's
// standard metrics with gatehouse's own for Prometheus, at
// /stats/prometheus (where Istio scrapes Envoy) and /metrics.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /config_dump", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.dump())
	})
	mux.HandleFunc("GET /explain", s.serveExplain)
	s.metrics.Register(mux) // /stats/prometheus and /metrics
	return mux
}

// serveExplain explains a request against the configuration being
// served: /explain?url=http://host/path&method=GET&header=Name:+value
// (repeatable)&peer=ip&proxy=ip&port=80&sni=name&principal=id.
func (s *Server) serveExplain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := proxy.ExplainRequest{Method: q.Get("method"), URL: q.Get("url"), Header: http.Header{},
		Peer: q.Get("peer"), ProxySource: q.Get("proxy"), SNI: q.Get("sni"), Principal: q.Get("principal")}
	for _, h := range q["header"] {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			http.Error(w, fmt.Sprintf("header %q: want Name: value", h), http.StatusBadRequest)
			return
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if p := q.Get("port"); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			http.Error(w, fmt.Sprintf("port %q: want a port number", p), http.StatusBadRequest)
			return
		}
		req.Port = uint32(n)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	x, err := s.snap.Load().Explain(ctx, req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, x.String())
}
