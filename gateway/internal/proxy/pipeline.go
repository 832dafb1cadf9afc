package proxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy/relay"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// Pipeline serves requests and forwarded connections against the current
// generation of configuration: it decides (authenticate, match,
// authorize), acts (local replies, redirects, forwarding with retries,
// mirrors, upgrades) and records (access log, metrics).
type Pipeline struct {
	// Current returns the generation a new request is served by.
	Current func() *Generation
	// Log receives the pipeline's logs.
	Log *slog.Logger
	// Metrics counts requests and connections.
	Metrics *metrics.Metrics
	// Engine sends requests upstream.
	Engine transport.Engine
	// Hostname is the machine's name, for the %HOSTNAME% header formatter.
	Hostname string
	// RefusalLog limits the log lines about refused requests.
	RefusalLog *listener.LogLimiter

	tunnels relay.Tracker // hijacked connections (WebSocket), closed at shutdown
	mirrors atomic.Int32  // mirrored requests in flight
}

// Handler returns the handler of the listener key's HTTP requests, which
// an engine's adapter calls: it serves each request through the pipeline,
// and answers "Upgrade: h2c" by switching the connection to HTTP/2 where
// the listener allows it.
func (s *Pipeline) Handler(key listener.Key) downstream.Handler {
	return &httpHandler{s: s, key: key}
}

// ForwardStream forwards a connection a listener routed by a TCP route,
// if the authorization policies allow it, in the generation the listener
// read its configuration from.
func (s *Pipeline) ForwardStream(c net.Conn, f *router.Forward, gen *Generation, sni string, cs *tls.ConnectionState) {
	if s.allowTCP(c, gen, f, sni, cs) {
		s.forwardTCP(c, f, gen, sni)
	}
}

// CloseTunnels waits for the hijacked connections (WebSocket and other
// upgrades) to end until ctx is done, then closes those left.
func (s *Pipeline) CloseTunnels(ctx context.Context) {
	s.tunnels.Wait(ctx)
	s.tunnels.CloseAll()
}

// Tunnels returns how many hijacked connections are open.
func (s *Pipeline) Tunnels() int {
	return s.tunnels.Len()
}
