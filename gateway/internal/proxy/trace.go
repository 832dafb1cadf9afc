package proxy

import (
	"context"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy/forwarded"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// tracer watches admit and decide work: each method is called at the
// point its step is taken, with what that step saw. Serving passes
// noTrace; explain passes its recorder (explainer), which writes the
// steps down. The outcome itself is the verdict, never the tracer's: a
// tracer only watches.
//
// Arguments are values or pointers the request already holds on the
// heap, never pointers to the caller's stack, so that calls through the
// interface cost serving no allocation.
type tracer interface {
	// tooManyHeaders: the request has n header fields, more than limit.
	tooManyHeaders(n, limit int)
	// underscoreHeader: a header name holds "_" and the listener refuses it.
	underscoreHeader()
	// badPath: the path raw cannot be normalized.
	badPath(raw string, err error)
	// pathParameters: the normalized path holds ";" parameters, refused.
	pathParameters(path string)
	// normalized: the raw path became path under mode.
	normalized(raw, path string, mode router.PathMode)
	// hostNormalized: the Host authority is matched as host.
	hostNormalized(authority, host string)
	// client: the addresses worked out, and the X-Forwarded-For received.
	client(c forwarded.Client, xff []string)
	// forwarded: the headers once the forwarding headers are set.
	forwarded(h http.Header)

	// tlsServer: on a TLS listener, the SNI selected the terminating
	// server negotiated and the host belongs to owner (-1: none); ok is
	// false when their TLS settings differ (421).
	tlsServer(lc *listener.Config, sni, host string, negotiated, owner int, ok bool)
	// authenticating: JWT authentication is about to run on ar (skipped
	// for a CORS preflight); ar.Header is still as received.
	authenticating(ar *authz.Request, preflight bool)
	// unauthenticated: authentication rejected ar.
	unauthenticated(ctx context.Context, e *authz.Engine, ar *authz.Request)
	// matched: vh (nil: none) takes host, and its routes were tried with
	// rr until rt took it (nil: none did).
	matched(host string, vh *router.VHost, rr router.Request, rt *router.Route)
	// authorized: e authorized ar, with its path replaced by again when
	// again is not "" (the second, policyPath, check).
	authorized(ctx context.Context, e *authz.Engine, ar *authz.Request, again string)
	// unsecured: there is no security engine; nothing was checked.
	unsecured()
}

// noTrace is serving's tracer: it watches nothing.
type noTrace struct{}

func (noTrace) tooManyHeaders(int, int)                                           {}
func (noTrace) underscoreHeader()                                                 {}
func (noTrace) badPath(string, error)                                             {}
func (noTrace) pathParameters(string)                                             {}
func (noTrace) normalized(string, string, router.PathMode)                        {}
func (noTrace) hostNormalized(string, string)                                     {}
func (noTrace) client(forwarded.Client, []string)                                 {}
func (noTrace) forwarded(http.Header)                                             {}
func (noTrace) tlsServer(*listener.Config, string, string, int, int, bool)        {}
func (noTrace) authenticating(*authz.Request, bool)                               {}
func (noTrace) unauthenticated(context.Context, *authz.Engine, *authz.Request)    {}
func (noTrace) matched(string, *router.VHost, router.Request, *router.Route)      {}
func (noTrace) unsecured()                                                        {}
func (noTrace) authorized(context.Context, *authz.Engine, *authz.Request, string) {}
