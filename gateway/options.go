package gateway

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc = transport.DialFunc

// Options configures a Server. The zero value of every field is a
// documented default.
type Options struct {
	// ConfigPaths are the files and directories to load.
	ConfigPaths []string
	// AdminAddr is where the admin endpoints listen; "" disables them.
	AdminAddr string
	// Logger receives the gateway's logs. If nil, slog.Default() is used.
	Logger *slog.Logger
	// Listen opens listening sockets. If nil, net.ListenConfig is used.
	Listen func(ctx context.Context, network, addr string) (net.Listener, error)
	// ListenAddr maps a Gateway server's bind address and port to the
	// address actually listened on. If nil, the port is listened on at the
	// bind address (all addresses when bind is empty). Tests map every
	// port to "127.0.0.1:0".
	ListenAddr func(bind string, port uint32) string
	// Dial opens upstream connections. If nil, net.Dialer is used.
	Dial DialFunc
	// Settle is how long a changed configuration must stay quiet before
	// the watcher reloads it: no further file events, and (on Linux) every
	// file written in place closed by its writer. If zero, 250 ms.
	Settle time.Duration
	// DrainTimeout bounds how long in-flight requests of a closing
	// listener, or of the whole server at shutdown, may take. If zero, 15 s.
	DrainTimeout time.Duration
	// DrainDelay is how long, once Run's context ends, the listeners keep
	// accepting connections while readiness already fails, answering
	// with "Connection: close" and HTTP/2 GOAWAY so that clients move and
	// a load balancer probing every few seconds notices before anything is
	// refused (Istio's terminationDrainDuration). If nil, the mesh
	// configuration's defaultConfig.terminationDrainDuration, else 5 s.
	DrainDelay *time.Duration
	// CredentialsDir is where credentialName secrets are looked up, laid
	// out like mounted Kubernetes TLS secrets (NAME/tls.crt, NAME/tls.key,
	// NAME/ca.crt, or NAME.crt and NAME.key). "" disables credentialName.
	CredentialsDir string
	// HeaderTimeout bounds how long a client may take to send a request's
	// head (on a kept-alive connection, from the head's first byte), to
	// finish a TLS handshake, or to send the ClientHello a TLS port routes
	// by (security.md HTTP-06, TLS-05). If zero, DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// MaxConnections caps the downstream connections each listener holds
	// at once; beyond it new connections are closed at once. Zero means
	// no cap. The Gateway annotation gatehouse.io/max-connections
	// overrides it for its listeners.
	MaxConnections int
	// StdUpstream selects the upstream engine built on net/http's
	// Transport instead of gatehouse's own HTTP/1.1 client. It exists so
	// that the two can be compared in bench/.
	StdUpstream bool
	// Version is reported by the admin endpoints.
	Version string
	// OnReload, if set, is called after every reload attempt with the
	// generation then serving and the attempt's error (nil on success or
	// when nothing changed).
	OnReload func(gen uint64, err error)
}

// DefaultHeaderTimeout is Options.HeaderTimeout's default: Envoy's
// request_headers_timeout as Istio's edge guidance sets it.
const DefaultHeaderTimeout = 10 * time.Second

// DefaultSettle is the settle window of the configuration watcher when
// Options.Settle is zero.
const DefaultSettle = 250 * time.Millisecond
