package listener

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h1guard"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// Deps is what listeners need from the server that runs them. One Deps is
// shared by every listener of a server; every field is required.
type Deps struct {
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// RefusalLog limits the warnings about refused connections and
	// requests (PROXY headers, connection caps, HTTP/2 floods, file
	// descriptors).
	RefusalLog *LogLimiter
	// Idle tracks the keep-alive connections of every listener, so that
	// the longest idle can be closed when accept runs out of descriptors.
	Idle *IdleConns
	// HeaderTimeout bounds a request head, a TLS handshake, a ClientHello
	// and a PROXY header's wait.
	HeaderTimeout time.Duration
	// MaxConnections caps the connections of a listener whose Gateways set
	// no cap; zero: none.
	MaxConnections int
	// Requests is the context every downstream request descends from.
	Requests context.Context

	// Current returns the configuration of the listener of key in the
	// generation serving now (nil: none, the connection is closed), and
	// that generation, which is handed back to Forward untouched so that a
	// connection is served by one generation throughout.
	Current func(key Key) (cfg *Config, gen any)
	// Forward serves a byte stream by a TCP route: a connection of a TCP
	// port, a TLS connection passed through by SNI (sni set, cs nil), or
	// one terminated for a TLS server (cs its TLS state). It owns c.
	Forward func(c net.Conn, f *router.Forward, sni string, cs *tls.ConnectionState, gen any)
	// Refused is told of every request the HTTP/1.1 validator refuses,
	// after it has been answered.
	Refused func(c net.Conn, rf *h1guard.Refusal)
}
