package gateway

import (
	"log/slog"
	"sync/atomic"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
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

	tunnels tracker      // hijacked connections (WebSocket), closed at shutdown
	mirrors atomic.Int32 // mirrored requests in flight
}
