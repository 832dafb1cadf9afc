package gateway

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
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

// hdr is one header line the gateway adds to an upstream request.
type hdr struct{ k, v string }

// outbound describes the request to send upstream without copying the
// inbound one. The inbound header map is made the upstream request's
// (sanitizeRequestHeaders, then the forwarding headers, then the route's
// header operations) and written out as it stands, minus the framing
// headers each engine writes itself; extra holds the few lines that change
// per attempt. Both upstream engines take this same description.
type outbound struct {
	in       *http.Request
	method   string
	path     string // escaped path, normalized or rewritten
	rawQuery string
	host     string // the Host header to send
	extra    []hdr
	// upgrade is the protocol the client asked to switch to ("websocket"),
	// or "" for an ordinary request.
	upgrade string
	// bodyLen is the request body length: 0 none, -1 unknown (chunked).
	bodyLen int64
	// body is what the next attempt sends; replay keeps a copy of what
	// was read so that the request can be sent again.
	body           io.Reader
	replay         *replayBody
	connectTimeout time.Duration
	// streamIdle is the stream idle timeout: how long the exchange may
	// see nothing move, either way, before it ends (zero: never).
	streamIdle time.Duration
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

	extraBuf [4]hdr
}

// reset prepares o for request r.
func (o *outbound) reset(r *http.Request) {
	o.bodyMu.Lock()
	o.in, o.method, o.rawQuery, o.host, o.connectTimeout = r, r.Method, r.URL.RawQuery, r.Host, upstream.DefaultConnectTimeout
	o.path, o.upgrade, o.body, o.replay, o.downstream, o.aborted, o.bodyEnded, o.bodyStarted = "", "", nil, nil, nil, false, false, false
	o.streamIdle, o.upConn, o.idle = 0, nil, nil
	o.bodyMu.Unlock()
	o.extra = o.extraBuf[:0]
	o.bodyLen = r.ContentLength
	if r.Body == nil || r.Body == http.NoBody {
		o.bodyLen = 0
	} else if o.bodyLen != 0 {
		o.replay = newReplayBody(r.Body, o.bodyLen)
		o.body = o.replay
	}
}

func (o *outbound) add(k, v string) { o.extra = append(o.extra, hdr{k, v}) }

// hasBody reports whether a request body follows the head.
func (o *outbound) hasBody() bool { return o.bodyLen != 0 }

// replayable reports whether the request can be sent again, on another
// connection or to another endpoint: it is not an upgrade, and its body
// was either never touched or has been kept whole. A body an earlier
// attempt is still reading is never shared with the next one.
func (o *outbound) replayable() bool { return o.upgrade == "" && o.replay.replayable() }

// idempotent reports whether sending the request twice is harmless, so a
// pooled connection the upstream closed may be retried transparently (as
// net/http's Transport decides).
func (o *outbound) idempotent() bool {
	switch o.method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	h := o.in.Header
	return len(h["Idempotency-Key"]) > 0 || len(h["X-Idempotency-Key"]) > 0
}

// rewind prepares the body for another attempt. The previous attempt's
// writer has stopped (an aborted HTTP/1.1 attempt is waited for), so the
// abort that stopped it must not fail the next attempt's reads.
func (o *outbound) rewind() {
	if o.replay != nil {
		o.body = o.replay.replay()
	}
	o.bodyMu.Lock()
	o.aborted = false
	o.bodyMu.Unlock()
}

// skip reports whether header k of the prepared request map is written by
// the engine itself rather than copied.
func (o *outbound) skip(k string) bool {
	switch k {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer":
		return true
	}
	return false
}

// trailerBody returns the request trailers the client declared that may
// reach an upstream, and a body to send in place of o.body that fills in
// their values when it ends (the client's values arrive only then). The
// framing, hop-by-hop, forwarding and client-address fields and Envoy's
// x-envoy-* never pass: a trailer is read after every header check.
func (o *outbound) trailerBody() (http.Header, io.Reader) {
	if len(o.in.Trailer) == 0 {
		return nil, o.body
	}
	out := make(http.Header, len(o.in.Trailer))
	for k := range o.in.Trailer {
		out[k] = nil
	}
	// The header rules, with no proxy trusted: a trailer is nobody's word.
	sanitizeRequestHeaders(out)
	sanitizeTrustHeaders(out, 0)
	for k := range out {
		if o.skip(k) || slices.Contains(forwardingHeaders, k) {
			delete(out, k)
		}
	}
	if len(out) == 0 {
		return nil, o.body
	}
	return out, &trailerReader{r: o.body, from: o.in.Trailer, to: out}
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

// header returns the request headers as they will reach the upstream, for
// the engines built on net/http, checking the request line and each field
// as it is copied, as the HTTP/1.1 writer does. net/http's own checks
// differ by engine: its HTTP/1.1 client sends an invalid Host as an empty
// one, both escape control bytes in the path, and its HTTP/2 client sends
// those of the query as they stand.
func (o *outbound) header() (http.Header, error) {
	if err := o.checkLine(); err != nil {
		return nil, err
	}
	h := make(http.Header, len(o.in.Header)+len(o.extra))
	for k, vs := range o.in.Header {
		if o.skip(k) {
			continue
		}
		for _, v := range vs {
			if err := checkField(k, v); err != nil {
				return nil, err
			}
		}
		h[k] = vs
	}
	for _, e := range o.extra {
		if err := checkField(e.k, e.v); err != nil {
			return nil, err
		}
		h.Add(e.k, e.v)
	}
	if o.upgrade != "" {
		if err := checkField("Upgrade", o.upgrade); err != nil {
			return nil, err
		}
		h.Set("Connection", "Upgrade")
		h.Set("Upgrade", o.upgrade)
	}
	return h, nil
}

// checkLine checks what the request line and the Host are made of: a
// token for the method; for the path, the query and the Host, bytes that
// are neither control bytes nor spaces.
func (o *outbound) checkLine() error {
	switch {
	case o.method == "" || !valid(o.method, tokenByte):
		return &upstream.RequestError{Part: "method"}
	case !valid(o.path, visibleByte):
		return &upstream.RequestError{Part: "path"}
	case !valid(o.rawQuery, visibleByte):
		return &upstream.RequestError{Part: "query"}
	case !valid(o.host, visibleByte):
		return &upstream.RequestError{Part: "host"}
	}
	return nil
}

// contentLength returns the Content-Length value to send, if any.
func (o *outbound) contentLength() (string, bool) {
	switch {
	case o.bodyLen > 0:
		return strconv.FormatInt(o.bodyLen, 10), true
	case o.bodyLen == 0 && (o.method == "POST" || o.method == "PUT" || o.method == "PATCH"):
		return "0", true
	}
	return "", false
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
	if !o.hasBody() {
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
	if pc := o.upConn; pc != nil && o.streamIdle > 0 {
		pc.extendRead(time.Now().Add(o.streamIdle))
	}
	o.idle.touch()
}

// idleOr is the stream idle timeout, or d when it is unset.
func (o *outbound) idleOr(d time.Duration) time.Duration {
	if o.streamIdle > 0 {
		return o.streamIdle
	}
	return d
}
