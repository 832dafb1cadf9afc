package gateway

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
)

// errBodyAborted ends a read of the client's body after the exchange it
// fed has ended.
var errBodyAborted = errors.New("request body no longer read: the exchange ended")

// maxResponseHeaderBytes caps an upstream response head; a larger one is a
// 502, never an unbounded read (security.md UP-05).
const maxResponseHeaderBytes = 64 << 10

// outbound is one request to send upstream (upstream.Request) with the
// client's side of its exchange: the client's body, kept for replay, and
// the deadlines of its reads. Both upstream engines take it.
type outbound struct {
	upstream.Request
	// replay keeps a copy of what was read of the body so that the
	// request can be sent again.
	replay *replayBody
	// upConn is the HTTP/1.1 upstream connection of the current attempt,
	// whose read deadline enforces streamIdle; nil on other engines.
	upConn *h1Conn
	// idle is the stream idle timeout of an attempt on another engine.
	idle *streamIdle
	// downstream controls the client's connection while its body is read:
	// a read stalled longer than streamIdleTimeout fails, and an exchange
	// that ends early makes a blocked read fail at once instead of waiting
	// for the client. Nil when the request has no body.
	downstream *http.ResponseController
	bodyMu     sync.Mutex // orders deadline changes against abortBody
	aborted    bool
	// bodyEnded is set once a read of the client's body returned an
	// error or EOF. net/http then starts reading the connection in the
	// background, and a read deadline set from here on would fail that
	// read and cancel the whole connection's context: the next request on
	// it would start out cancelled.
	bodyEnded bool
	// bodyStarted is set when the HTTP/1.1 engine starts copying the
	// client's body upstream; bodyEnded then tells whether it is all in.
	bodyStarted bool

	extraBuf [4]upstream.Field
}

// reset prepares o for request r.
func (o *outbound) reset(r *http.Request) {
	o.bodyMu.Lock()
	o.In, o.Method, o.RawQuery, o.Host, o.ConnectTimeout = r, r.Method, r.URL.RawQuery, r.Host, upstream.DefaultConnectTimeout
	o.Path, o.Upgrade, o.Body, o.replay, o.downstream, o.aborted, o.bodyEnded, o.bodyStarted = "", "", nil, nil, nil, false, false, false
	o.StreamIdle, o.upConn, o.idle = 0, nil, nil
	o.bodyMu.Unlock()
	o.Extra = o.extraBuf[:0]
	o.BodyLen = r.ContentLength
	if r.Body == nil || r.Body == http.NoBody {
		o.BodyLen = 0
	} else if o.BodyLen != 0 {
		o.replay = newReplayBody(r.Body, o.BodyLen)
		o.Body = o.replay
	}
}

// replayable reports whether the request can be sent again, on another
// connection or to another endpoint: it is not an upgrade, and its body
// was either never touched or has been kept whole. A body an earlier
// attempt is still reading is never shared with the next one.
func (o *outbound) replayable() bool { return o.Upgrade == "" && o.replay.replayable() }

// rewind prepares the body for another attempt. The previous attempt's
// writer has stopped (an aborted HTTP/1.1 attempt is waited for), so the
// abort that stopped it must not fail the next attempt's reads.
func (o *outbound) rewind() {
	if o.replay != nil {
		o.Body = o.replay.replay()
	}
	o.bodyMu.Lock()
	o.aborted = false
	o.bodyMu.Unlock()
}

// trailerBody returns the request trailers the client declared that may
// reach an upstream, and a body to send in place of o.body that fills in
// their values when it ends (the client's values arrive only then). The
// framing, hop-by-hop, forwarding and client-address fields and Envoy's
// x-envoy-* never pass: a trailer is read after every header check.
func (o *outbound) trailerBody() (http.Header, io.Reader) {
	if len(o.In.Trailer) == 0 {
		return nil, o.Body
	}
	out := make(http.Header, len(o.In.Trailer))
	for k := range o.In.Trailer {
		out[k] = nil
	}
	// The header rules, with no proxy trusted: a trailer is nobody's word.
	sanitizeRequestHeaders(out)
	sanitizeTrustHeaders(out, 0)
	for k := range out {
		if o.Skip(k) || slices.Contains(forwardingHeaders, k) {
			delete(out, k)
		}
	}
	if len(out) == 0 {
		return nil, o.Body
	}
	return out, &trailerReader{r: o.Body, from: o.In.Trailer, to: out}
}

// forwardingHeaders are the ones setForwardingHeaders writes.
var forwardingHeaders = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id", "X-Envoy-External-Address", "X-Forwarded-Client-Cert"}

// trailerReader copies the values of the trailers in to from from when
// r ends.
type trailerReader struct {
	r        io.Reader
	from, to http.Header
}

func (t *trailerReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err == io.EOF {
		for k := range t.to {
			t.to[k] = t.from[k]
		}
	}
	return n, err
}

// hopHeaders concern one connection only and never cross the gateway, in
// either direction (RFC 9110 7.6.1, plus the ones net/http's ReverseProxy
// and Envoy also drop).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Http2-Settings",
}

// sanitizeRequestHeaders removes from a request's headers what must not
// reach the upstream and what a client may not set for it: hop-by-hop
// headers and those its Connection header names, Envoy's x-envoy-*
// control headers. X-Forwarded-Client-Cert is setForwardingHeaders'. It
// runs before anything else reads or adds headers.
func sanitizeRequestHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if tok = strings.TrimSpace(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
	for k := range h {
		if len(k) > 8 && strings.EqualFold(k[:8], "x-envoy-") {
			delete(h, k)
		}
	}
}

// bodyReadDeadline bounds the next read of the client's body. It reports
// false once abortBody was called: the body must not be read any more.
func (o *outbound) bodyReadDeadline(t time.Time) bool {
	o.bodyMu.Lock()
	defer o.bodyMu.Unlock()
	if o.aborted {
		return false
	}
	if o.downstream != nil && !o.bodyEnded {
		o.downstream.SetReadDeadline(t)
	}
	return true
}

// bodyEnd records that the client's body has been read to its end (or
// failed), and lifts the read deadline while net/http is not reading.
func (o *outbound) bodyEnd() {
	o.bodyMu.Lock()
	defer o.bodyMu.Unlock()
	if o.downstream != nil && !o.bodyEnded && !o.aborted {
		o.downstream.SetReadDeadline(time.Time{})
	}
	o.bodyEnded = true
}

// bodyPending reports whether the client's body has not been read to its
// end yet.
func (o *outbound) bodyPending() bool {
	if !o.HasBody() {
		return false
	}
	o.bodyMu.Lock()
	defer o.bodyMu.Unlock()
	return o.bodyStarted && !o.bodyEnded
}

// sendingBody records that the client's body is being copied upstream.
func (o *outbound) sendingBody() {
	o.bodyMu.Lock()
	o.bodyStarted = true
	o.bodyMu.Unlock()
}

// abortBody makes a read of the client's body that is blocked (the client
// stalled) fail at once, and every later one fail too, so that the end of
// an exchange never waits on the client.
func (o *outbound) abortBody() {
	o.bodyMu.Lock()
	defer o.bodyMu.Unlock()
	o.aborted = true
	if o.downstream != nil && !o.bodyEnded {
		o.downstream.SetReadDeadline(aLongTimeAgo)
	}
}

// touchUpstream records that the stream moved: the HTTP/1.1 upstream
// connection may stay silent for streamIdle from now.
func (o *outbound) touchUpstream() {
	if pc := o.upConn; pc != nil && o.StreamIdle > 0 {
		pc.extendRead(time.Now().Add(o.StreamIdle))
	}
	o.idle.touch()
}

// IdleOr is the stream idle timeout, or d when it is unset.
func (o *outbound) IdleOr(d time.Duration) time.Duration {
	if o.StreamIdle > 0 {
		return o.StreamIdle
	}
	return d
}
