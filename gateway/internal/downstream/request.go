package downstream

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
)

// Request is one client request as the pipeline sees it: the facts an
// engine parsed, before any normalization. The pipeline edits Host,
// RawQuery and Header in place as it decides (the normal form of the
// host, a verified token's parameter removed, the forwarding headers), and
// what it leaves there is what the upstream receives. A Request belongs to
// the engine's adapter, which may recycle it once its Handler returns.
type Request struct {
	ctx context.Context

	// Method is the request method as received.
	Method string
	// Proto is the protocol version: "HTTP/1.0", "HTTP/1.1", "HTTP/2.0".
	Proto      string
	ProtoMajor int
	ProtoMinor int
	// Host is the Host header field or HTTP/2 :authority.
	Host string
	// RequestURI is the request-target exactly as the client sent it
	// (origin form "/p?q", absolute form "http://h/p", or "*").
	RequestURI string
	// TargetScheme is the scheme of an absolute-form target, "" for
	// other forms.
	TargetScheme string
	// EscapedPath is the target's path in escaped form, as
	// url.URL.EscapedPath gives it (RequestURI has it as sent).
	EscapedPath string
	// RawQuery is the target's query, without "?".
	RawQuery string
	// ForceQuery is set when the target ended in a "?" with no query
	// after it, which URI keeps.
	ForceQuery bool
	// Header holds the header fields, canonical keys, without Host.
	Header http.Header
	// Trailer names the trailers the client declared; their values are
	// filled in when Body has been read to its end.
	Trailer http.Header
	// ContentLength is the body's length: -1 unknown, 0 none.
	ContentLength int64
	// Body is the request body; nil when there is none.
	Body io.ReadCloser
	// RemoteAddr is the connection's peer, "ip:port" (a PROXY header's
	// source when the connection had one).
	RemoteAddr string
	// LocalAddr is the address the connection arrived on (a PROXY
	// header's destination when it had one), nil when unknown.
	LocalAddr net.Addr
	// TLS is the connection's TLS state, nil for plaintext (or when the
	// engine cannot see it: the pipeline then takes it from the
	// listener's connection info).
	TLS *tls.ConnectionState
	// H2CUpgrade is set on an HTTP/1.1 request that asks to switch its
	// connection to HTTP/2 (RFC 7540 3.2) in a form the engine can serve:
	// Upgrade: h2c, HTTP2-Settings named by Connection, and no body.
	H2CUpgrade bool
}

// Context returns the request's context, which ends when the client goes
// away or the exchange is over.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// SetContext sets the request's context.
func (r *Request) SetContext(ctx context.Context) { r.ctx = ctx }

// Reset clears r for reuse, keeping nothing of the request it described.
func (r *Request) Reset() { *r = Request{} }

// URI returns the path and query the request carries on, as
// url.URL.RequestURI does: EscapedPath ("/" when empty), then "?" and
// RawQuery when there is one (or ForceQuery is set).
func (r *Request) URI() string {
	p := r.EscapedPath
	if p == "" {
		p = "/"
	}
	if r.RawQuery == "" && !r.ForceQuery {
		return p
	}
	return p + "?" + r.RawQuery
}

// HasBody reports whether the request has a body to read.
func (r *Request) HasBody() bool { return r.Body != nil && r.ContentLength != 0 }
