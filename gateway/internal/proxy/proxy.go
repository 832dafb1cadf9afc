package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy/relay"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// errRouteTimeout is the cancellation cause of a route's timeout.
var errRouteTimeout = errors.New("route timeout")

var outbounds = sync.Pool{New: func() any { return new(outbound) }}

// forward sends the request to the destination the plan picked, retrying
// as the route's policy says, and relays the answer. Like
// httputil.ReverseProxy.ServeHTTP, it reads as its steps: bound the
// request by the route timeout, make the upstream request, exchange it
// (with retries), mirror it, then answer with the failure, the switched
// protocol or the response.
func (s *Pipeline) forward(w downstream.ResponseWriter, r *downstream.Request, rq *request, rt *router.Route, p *plan) {
	act := rt.Action
	ctx, cancel := routeContext(r.Context(), act.Timeout)
	defer cancel()
	o := outbounds.Get().(*outbound)
	defer outbounds.Put(o)
	s.makeOutbound(o, w, r, rq, p)
	x := &exchange{s: s, w: w, r: r, o: o, c: p.cluster, policy: act.Retry}
	resp, ep, err := x.run(ctx)
	if e := entryOf(w); e != nil {
		noteUpstream(e, p.cluster, ep, x, err)
	}
	if len(rt.Mirrors) > 0 {
		defer s.mirror(rq.snap, r, o, rt, act.Timeout)
	}
	switch {
	case err != nil:
		upstreamFailed(w, ctx, r, x, err)
	case resp.StatusCode == http.StatusSwitchingProtocols:
		s.switchProtocols(w, r, resp, o)
	default:
		writeResponse(w, ctx, resp, x.took, o.IdleOr(mesh.StreamIdleTimeout), func(h http.Header) {
			s.editResponse(h, r, rq, act, p.dest, o, x, ep)
		})
	}
}

// routeContext bounds ctx by the route's timeout, when it has one.
func routeContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, timeout, errRouteTimeout)
}

// makeOutbound turns the client's request into the upstream request o.
func (s *Pipeline) makeOutbound(o *outbound, w downstream.ResponseWriter, r *downstream.Request, rq *request, p *plan) {
	o.reset(r, rq.conn)
	o.ConnectTimeout = p.cluster.ConnectTimeout
	o.StreamIdle = rq.lc.Options.StreamIdle()
	if o.HasBody() {
		o.downstream = w
	}
	s.prepare(o, r, rq, p)
	if e := entryOf(w); e != nil && o.Path != rq.path {
		e.OriginalPath = r.URI()
	}
}

// upstreamFailed answers a failed exchange, noting that it was retried.
func upstreamFailed(w downstream.ResponseWriter, ctx context.Context, r *downstream.Request, x *exchange, err error) {
	upstreamError(w, ctx, r, err)
	if len(x.tried) > 1 && r.Context().Err() == nil {
		note(w, "URX", "")
	}
}

// switchProtocols relays a 101: the tunnel the client asked for, or a
// 502 for a switch nobody asked for.
func (s *Pipeline) switchProtocols(w downstream.ResponseWriter, r *downstream.Request, resp *http.Response, o *outbound) {
	if o.Upgrade == "" {
		resp.Body.Close()
		note(w, "UPE", "upstream_reset_before_response_started{protocol_error}")
		localReply(w, r, http.StatusBadGateway, BodyProtocol)
		return
	}
	s.tunnel(w, r, resp, o.Upgrade)
}

// editResponse is what is done to the upstream's response head: the
// destination's header operations, CORS, a made-up hash cookie, and
// "Connection: close" when the client's body was not read to its end.
func (s *Pipeline) editResponse(h http.Header, r *downstream.Request, rq *request, act *router.Action, d *router.Dest, o *outbound, x *exchange, ep *upstream.Endpoint) {
	if d.ResponseHeaders.Len() > 0 {
		d.ResponseHeaders.Apply(h, &fmtVars{s: s, r: r, upstream: ep.Addr})
	}
	if act.CORS != nil && rq.origin != "" {
		setHeaders(h, act.CORS.ResponseHeaders(rq.origin))
	}
	if x.setCookie != "" {
		h.Add("Set-Cookie", x.setCookie)
	}
	if r.ProtoMajor == 1 && o.bodyPending() {
		// The upstream answered before the client's body was read to
		// its end; the rest of it is not read any more, so the client
		// must not send another request on this connection.
		h["Connection"] = []string{"close"}
	}
}

// prepare makes the client's request the upstream request: the forwarding
// headers, then the rewritten path and host and the destination's header
// operations, which therefore win over the gateway's own headers as they
// do in Envoy.
func (s *Pipeline) prepare(o *outbound, r *downstream.Request, rq *request, p *plan) {
	o.Upgrade, o.Path, o.Host = rq.upgrade, p.path, p.authority
	if p.path != rq.path {
		r.Header[router.OriginalPathHeader] = []string{r.URI()}
	}
	if d := p.dest; d.RequestHeaders.Len() > 0 {
		d.RequestHeaders.Apply(r.Header, &fmtVars{s: s, r: r})
	}
}

// upstreamError answers a failed exchange with Envoy's local reply for it.
// A client that went away gets nothing: the connection is closed without
// an answer. Returning without writing would let net/http answer 200 with
// an empty body, which a client that only half-closed would read as the
// upstream's success.
func upstreamError(w downstream.ResponseWriter, ctx context.Context, r *downstream.Request, err error) {
	f := failureOf(ctx, r, err)
	note(w, f.flags, f.details)
	if f.status == 0 {
		w.Abort()
	}
	if f.close {
		w.Header().Set("Connection", "close")
	}
	localReply(w, r, f.status, f.body)
}

// failure is how a failed exchange is answered and logged.
type failure struct {
	status         int
	body           string
	flags, details string
	close          bool
}

// failureOf classifies a failed exchange as Envoy does.
func failureOf(ctx context.Context, r *downstream.Request, err error) failure {
	switch {
	case errors.Is(context.Cause(ctx), errRouteTimeout):
		return failure{status: http.StatusGatewayTimeout, body: BodyTimeout, flags: "UT", details: "response_timeout"}
	case errors.As(err, new(*transport.ClientBodyError)) && errors.Is(err, os.ErrDeadlineExceeded):
		// The client stopped sending its body for the stream idle timeout:
		// it is stalled, not gone (net/http cancelled the request on the
		// read error all the same), and is told so, then closed.
		return failure{status: http.StatusRequestTimeout, body: "stream timeout", flags: "SI", details: "stream_idle_timeout", close: true}
	case errors.As(err, new(*transport.ClientBodyError)) && listener.ConnInfoOf(r.Context()).BodyRefused():
		// The validator found the body malformed (net/http cancelled the
		// request on that read error; the client is not gone): 400 and a
		// close, as for a malformed head (security.md HTTP-02).
		return failure{status: http.StatusBadRequest, body: "Bad Request", flags: "DPE", details: "downstream_protocol_error", close: true}
	case r.Context().Err() != nil:
		return failure{flags: "DC", details: "downstream_remote_disconnect"}
	case errors.As(err, new(*transport.ClientBodyError)):
		return failure{status: http.StatusBadRequest, body: "Bad Request", flags: "DPE", details: "downstream_protocol_error", close: true}
	case errors.As(err, new(*transport.RequestError)):
		// As Envoy flags a request its upstream codec refuses to encode.
		return failure{status: http.StatusBadGateway, body: bodyInvalidRequest, flags: "DPE", details: "invalid_upstream_request"}
	case errors.Is(err, transport.ErrOverflow):
		return failure{status: http.StatusServiceUnavailable, body: BodyOverflow, flags: "UO", details: "upstream_reset_before_response_started{overflow}"}
	case errors.Is(err, transport.ErrNoHealthy):
		return failure{status: http.StatusServiceUnavailable, body: BodyNoHealthy, flags: "UH", details: "no_healthy_upstream"}
	case errors.Is(err, transport.ErrStreamIdle):
		return failure{status: http.StatusGatewayTimeout, body: BodyTimeout, flags: "UT", details: "stream_idle_timeout"}
	case errors.Is(err, errPerTryTimeout):
		return failure{status: http.StatusGatewayTimeout, body: BodyTimeout, flags: "UT", details: "upstream_per_try_timeout"}
	case errors.As(err, new(*transport.ConnectError)):
		return failure{status: http.StatusServiceUnavailable, body: BodyConnect, flags: "UF", details: "upstream_reset_before_response_started{connection_failure}"}
	case errors.As(err, new(*transport.ProtocolError)):
		return failure{status: http.StatusBadGateway, body: BodyProtocol, flags: "UPE", details: "upstream_reset_before_response_started{protocol_error}"}
	case errors.As(err, new(*transport.RefusedStreamError)):
		return failure{status: http.StatusServiceUnavailable, body: BodyRefused, flags: "UR", details: "upstream_reset_before_response_started{remote_refused_stream_reset}"}
	}
	return failure{status: http.StatusServiceUnavailable, body: BodyReset, flags: "UC", details: "upstream_reset_before_response_started{connection_termination}"}
}

// noteUpstream records which upstream answered and how fast.
func noteUpstream(e *accesslog.Entry, c *upstream.Cluster, ep *upstream.Endpoint, x *exchange, err error) {
	e.UpstreamCluster = c.Name
	e.DestinationService = c.Host // metrics: destination_service
	if ep != nil {
		e.UpstreamHost = ep.Addr
	}
	if err == nil {
		e.UpstreamServiceTime = x.took
		e.ResponseDuration = time.Since(e.Start)
		e.Details = "via_upstream"
	}
}

// respHopHeaders are the response headers that concern one connection only.
var respHopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Transfer-Encoding": true,
	"Upgrade": true, "Trailer": true, "Te": true, "Proxy-Authenticate": true,
}

// writeResponse relays an upstream response: headers minus hop-by-hop ones,
// the upstream service time, the body as it arrives, and trailers. A body
// that breaks off aborts the client connection, so a truncated response
// never looks complete.
func writeResponse(w downstream.ResponseWriter, ctx context.Context, resp *http.Response, took, idle time.Duration, edits func(http.Header)) {
	defer resp.Body.Close()
	h := w.Header()
	named := resp.Header["Connection"]
	for k, vs := range resp.Header {
		if respHopHeaders[k] || (len(named) > 0 && transport.HeaderHasToken(named, k)) {
			continue
		}
		h[k] = vs
	}
	h["X-Envoy-Upstream-Service-Time"] = []string{strconv.FormatInt(took.Milliseconds(), 10)}
	if edits != nil {
		edits(h)
	}
	w.WriteHeader(resp.StatusCode)
	cut, _ := ctx.Deadline() // the route timeout's, if any
	rerr, werr := copyBody(w, resp.Body, resp.ContentLength < 0, idle, cut)
	if werr != nil {
		return
	}
	if rerr != nil {
		// Never a clean end: the client's connection (or HTTP/2 stream)
		// is aborted, and the line says why.
		flags, details := midBodyFailure(ctx, rerr)
		note(w, flags, details)
		w.Abort()
	}
	for k, vs := range resp.Trailer {
		h[downstream.TrailerPrefix+k] = vs
	}
}

// copyBody copies an upstream body to the client. With flush set (a body
// of unknown length, such as a stream of events) every read is flushed to
// the client at once. Each write must complete within idle, the stream
// idle timeout, and before cut, the route timeout's deadline (zero: none):
// a client that is not reading must not keep the handler and the
// upstream waiting past the route timeout. A body that ends in time gets
// the idle timeout back for the engine's last writes (a chunked body's
// end, trailers).
func copyBody(w downstream.ResponseWriter, body io.Reader, flush bool, idle time.Duration, cut time.Time) (rerr, werr error) {
	bp := relay.GetBuffer()
	defer relay.PutBuffer(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			d := time.Now().Add(idle)
			if !cut.IsZero() && cut.Before(d) {
				d = cut
			}
			w.SetWriteDeadline(d)
			if _, werr = w.Write(buf[:n]); werr != nil {
				return nil, werr
			}
			if flush {
				w.Flush()
			}
		}
		if err == io.EOF {
			if !cut.IsZero() {
				w.SetWriteDeadline(time.Now().Add(idle))
			}
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}
