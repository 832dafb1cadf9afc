package proxy

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy/forwarded"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h1guard"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// outbound is one request to send upstream (transport.Request) with the
// client's side of its exchange: the client's body, kept for replay, and
// the deadlines of its reads. Both upstream engines take it.
type outbound struct {
	transport.Request
	// replay keeps a copy of what was read of the body so that the
	// request can be sent again.
	replay *replayBody
	// downstream controls the client's connection while its body is read:
	// a read stalled longer than streamIdleTimeout fails, and an exchange
	// that ends early makes a blocked read fail at once instead of waiting
	// for the client. Nil when the request has no body.
	downstream downstream.ResponseWriter
	// trailer names the trailers the client declared (values filled in
	// when its body ends); conn is its connection's.
	trailer http.Header
	conn    *listener.ConnInfo
	bodyMu  sync.Mutex // orders deadline changes against abortBody
	aborted bool
	// bodyEnded is set once a read of the client's body returned an
	// error or EOF. net/http then starts reading the connection in the
	// background, and a read deadline set from here on would fail that
	// read and cancel the whole connection's context: the next request on
	// it would start out cancelled.
	bodyEnded bool
	// bodyStarted is set when the HTTP/1.1 engine starts copying the
	// client's body upstream; bodyEnded then tells whether it is all in.
	bodyStarted bool

	extraBuf [4]transport.Field
}

// reset prepares o for request r, which arrived on the connection ci.
func (o *outbound) reset(r *downstream.Request, ci *listener.ConnInfo) {
	o.bodyMu.Lock()
	o.Request = transport.Request{Fields: r.Header, Method: r.Method, RawQuery: r.RawQuery, Host: r.Host,
		ConnectTimeout: upstream.DefaultConnectTimeout, Client: o}
	o.replay, o.downstream, o.aborted, o.bodyEnded, o.bodyStarted = nil, nil, false, false, false
	o.trailer, o.conn = r.Trailer, ci
	o.bodyMu.Unlock()
	o.Extra = o.extraBuf[:0]
	o.BodyLen = r.ContentLength
	if r.Body == nil {
		o.BodyLen = 0
	} else if o.BodyLen != 0 {
		o.replay = newReplayBody(r.Body, o.BodyLen)
		o.Body = o.replay
	}
}

// Replayable reports whether the request can be sent again, on another
// connection or to another endpoint: it is not an upgrade, and its body
// was either never touched or has been kept whole. A body an earlier
// attempt is still reading is never shared with the next one.
func (o *outbound) Replayable() bool { return o.Upgrade == "" && o.replay.replayable() }

// Rewind prepares the body for another attempt. The previous attempt's
// writer has stopped (an aborted HTTP/1.1 attempt is waited for), so the
// abort that stopped it must not fail the next attempt's reads.
func (o *outbound) Rewind() {
	if o.replay != nil {
		o.Body = o.replay.replay()
	}
	o.bodyMu.Lock()
	o.aborted = false
	o.bodyMu.Unlock()
}

// TrailerBody returns the request trailers the client declared that may
// reach an upstream, and a body to send in place of o.body that fills in
// their values when it ends (the client's values arrive only then). The
// framing, hop-by-hop, forwarding and client-address fields and Envoy's
// x-envoy-* never pass: a trailer is read after every header check.
func (o *outbound) TrailerBody() (http.Header, io.Reader) {
	if len(o.trailer) == 0 {
		return nil, o.Body
	}
	out := make(http.Header, len(o.trailer))
	for k := range o.trailer {
		out[k] = nil
	}
	// The header rules, with no proxy trusted: a trailer is nobody's word.
	forwarded.Sanitize(out)
	forwarded.SanitizeTrust(out, 0)
	for k := range out {
		if o.Skip(k) || slices.Contains(forwarded.Written, k) {
			delete(out, k)
		}
	}
	if len(out) == 0 {
		return nil, o.Body
	}
	return out, &trailerReader{r: o.Body, from: o.trailer, to: out}
}

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

// BodyReadDeadline bounds the next read of the client's body. It reports
// false once abortBody was called: the body must not be read any more.
func (o *outbound) BodyReadDeadline(t time.Time) bool {
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

// BodyEnd records that the client's body has been read to its end (or
// failed), and lifts the read deadline while net/http is not reading.
func (o *outbound) BodyEnd() {
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

// SendingBody records that the client's body is being copied upstream.
func (o *outbound) SendingBody() {
	o.bodyMu.Lock()
	o.bodyStarted = true
	o.bodyMu.Unlock()
}

// AbortBody makes a read of the client's body that is blocked (the client
// stalled) fail at once, and every later one fail too, so that the end of
// an exchange never waits on the client.
func (o *outbound) AbortBody() {
	o.bodyMu.Lock()
	defer o.bodyMu.Unlock()
	o.aborted = true
	if o.downstream != nil && !o.bodyEnded {
		o.downstream.SetReadDeadline(aLongTimeAgo)
	}
}

// BodyRefused returns the listener validator's refusal of the client's
// body, or nil.
func (o *outbound) BodyRefused() error {
	if o.conn != nil && o.conn.BodyRefused() {
		return h1guard.ErrBadRequestBody
	}
	return nil
}

// aLongTimeAgo is a deadline already past: it fails pending I/O at once.
var aLongTimeAgo = time.Unix(1, 0)
