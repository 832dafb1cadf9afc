package mesh

import (
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
)

// Annotations on a Gateway that set how its listeners treat requests.
const (
	// AnnotationPathParameters, on a Gateway, says what its listeners do
	// with a path holding ";" parameters ("/a;jsessionid=1", "/..;/x"),
	// which Java servers strip before matching while policy and routes
	// do not: "reject" (default: 400) or "keep" (forwarded as received,
	// as Istio does).
	AnnotationPathParameters = "gatehouse.io/path-parameters"
	// AnnotationHeadersWithUnderscores, on a Gateway, says what its
	// listeners do with a request header whose name holds "_"
	// ("X_Forwarded_For"), which CGI and WSGI upstreams read as the same
	// header as "X-Forwarded-For": "reject" (default: 400, Envoy's edge
	// advice headers_with_underscores_action REJECT_REQUEST), "drop" (the
	// header is removed and the request served) or "allow" (forwarded).
	AnnotationHeadersWithUnderscores = "gatehouse.io/headers-with-underscores"
	// AnnotationMaxRequestHeaders, on a Gateway, is how many header fields
	// a request may carry on its listeners (default 100, Envoy's
	// max_headers_count): more is answered 431 and never forwarded.
	AnnotationMaxRequestHeaders = "gatehouse.io/max-request-headers"
	// AnnotationMaxConnections, on a Gateway, caps the downstream
	// connections its listeners hold open at once: beyond it a new
	// connection is closed at once and counted, so one listener cannot
	// take every file descriptor from the others. It overrides
	// Options.MaxConnections (--max-connections) for those listeners.
	AnnotationMaxConnections = "gatehouse.io/max-connections"
	// AnnotationStreamIdleTimeout, on a Gateway, is how long a request on
	// its listeners may see nothing move, either way (the client's body,
	// the upstream's response head or body), before it ends: 504 before
	// the response started, an aborted response after (default 5m,
	// Envoy's stream_idle_timeout). It applies whether or not the route
	// has a timeout.
	AnnotationStreamIdleTimeout = "gatehouse.io/stream-idle-timeout"
)

// Stream idle limits: a client that stops sending its body, or stops
// reading its response, for this long is cut off, so that it cannot hold
// an upstream connection (Envoy's stream idle timeout).
const StreamIdleTimeout = 5 * time.Minute

// DefaultMaxRequestHeaders is Envoy's max_headers_count default.
const DefaultMaxRequestHeaders = 100

// UnderscoreAction is what a listener does with a header whose name holds
// an underscore. The zero value is the default, and the strictest.
type UnderscoreAction uint8

const (
	UnderscoresReject UnderscoreAction = iota
	UnderscoresDrop
	UnderscoresAllow
)

func (a UnderscoreAction) String() string {
	return [...]string{"reject", "drop", "allow"}[a]
}

// GatewayOptions are the request-handling annotations of one Gateway.
type GatewayOptions struct {
	KeepParams  bool
	Underscores UnderscoreAction
	MaxHeaders  int           // 0: defaultMaxRequestHeaders
	MaxConns    int           // 0: Options.MaxConnections
	Idle        time.Duration // 0: streamIdleTimeout
}

// gatewayOptionsOf reads the annotations of a Gateway resource.
func gatewayOptionsOf(r *config.Resource, ps *config.Problems) GatewayOptions {
	var o GatewayOptions
	ann := r.Meta.Annotations
	switch v := ann[AnnotationPathParameters]; v {
	case "", "reject":
	case "keep":
		o.KeepParams = true
	default:
		ps.Errf(r, "metadata.annotations", "%s: %q: want reject or keep", AnnotationPathParameters, v)
	}
	switch v := strings.ToLower(ann[AnnotationHeadersWithUnderscores]); v {
	case "", "reject":
	case "drop":
		o.Underscores = UnderscoresDrop
	case "allow":
		o.Underscores = UnderscoresAllow
	default:
		ps.Errf(r, "metadata.annotations", "%s: %q: want reject, drop or allow", AnnotationHeadersWithUnderscores, v)
	}
	o.MaxHeaders = positiveInt(r, ann, AnnotationMaxRequestHeaders, 10000, ps)
	o.MaxConns = positiveInt(r, ann, AnnotationMaxConnections, 1<<30, ps)
	if v, ok := ann[AnnotationStreamIdleTimeout]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond || d > 24*time.Hour {
			ps.Errf(r, "metadata.annotations", "%s: %q: want a duration from 1ms to 24h, such as 5m", AnnotationStreamIdleTimeout, v)
		} else {
			o.Idle = d
		}
	}
	return o
}

// positiveInt reads an annotation holding a whole number from 1 to max;
// 0 when it is absent.
func positiveInt(r *config.Resource, ann map[string]string, name string, max int, ps *config.Problems) int {
	v, ok := ann[name]
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > max {
		ps.Errf(r, "metadata.annotations", "%s: %q: want a whole number from 1 to %d", name, v, max)
		return 0
	}
	return n
}

// Merge combines the options of the Gateways sharing a listener: ";"
// parameters are kept if any of them keeps them (as before); headers with
// underscores get the strictest action of them all, and the limits the
// smallest value set.
func (o GatewayOptions) Merge(other GatewayOptions) GatewayOptions {
	o.KeepParams = o.KeepParams || other.KeepParams
	o.Underscores = min(o.Underscores, other.Underscores)
	o.MaxHeaders = minSet(o.MaxHeaders, other.MaxHeaders)
	o.MaxConns = minSet(o.MaxConns, other.MaxConns)
	o.Idle = time.Duration(minSet(int(o.Idle), int(other.Idle)))
	return o
}

// StreamIdle is the stream idle timeout of the listener's requests.
func (o GatewayOptions) StreamIdle() time.Duration {
	if o.Idle == 0 {
		return StreamIdleTimeout
	}
	return o.Idle
}

// minSet is the smaller of two limits where 0 means unset.
func minSet(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// HeaderLimit is how many header fields a request may carry.
func (o GatewayOptions) HeaderLimit() int {
	if o.MaxHeaders == 0 {
		return DefaultMaxRequestHeaders
	}
	return o.MaxHeaders
}
