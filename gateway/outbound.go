package gateway

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxResponseHeaderBytes caps an upstream response head; a larger one is a
// 502, never an unbounded read (security.md UP-05).
const maxResponseHeaderBytes = 64 << 10

// hdr is one header line the gateway adds to an upstream request.
type hdr struct{ k, v string }

// outbound describes the request to send upstream without copying the
// inbound one: the inbound header map is written out as it stands, minus
// the hop-by-hop headers, plus the gateway's own headers in extra. Both
// upstream engines take this same description.
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

	connTokens []string // headers the client's Connection header names
	extraBuf   [6]hdr
	tokBuf     [4]string
}

// reset prepares o for request r.
func (o *outbound) reset(r *http.Request) {
	*o = outbound{in: r, method: r.Method, rawQuery: r.URL.RawQuery, host: r.Host, connectTimeout: defaultConnectTimeout}
	o.extra = o.extraBuf[:0]
	o.connTokens = o.tokBuf[:0]
	o.bodyLen = r.ContentLength
	if r.Body == nil || r.Body == http.NoBody {
		o.bodyLen = 0
	} else if o.bodyLen != 0 {
		o.replay = newReplayBody(r.Body)
		o.body = o.replay
	}
	for _, v := range r.Header["Connection"] {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if tok = strings.TrimSpace(tok); tok != "" {
				o.connTokens = append(o.connTokens, tok)
			}
		}
	}
}

func (o *outbound) add(k, v string) { o.extra = append(o.extra, hdr{k, v}) }

// hasBody reports whether a request body follows the head.
func (o *outbound) hasBody() bool { return o.bodyLen != 0 }

// replayable reports whether the request can be sent again, on another
// connection or to another endpoint.
func (o *outbound) replayable() bool { return o.upgrade == "" && o.replay.replayable() }

// rewind prepares the body for another attempt.
func (o *outbound) rewind() {
	if o.replay != nil {
		o.body = o.replay.replay()
	}
}

// skip reports whether inbound header k must not be forwarded: hop-by-hop
// headers, those the client's Connection header names, headers the
// gateway sets itself, and Envoy control headers no client may set.
func (o *outbound) skip(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Proxy-Authorization", "Content-Length", "Host", "Expect", "X-Forwarded-For", "X-Forwarded-Proto", "Http2-Settings":
		return true
	}
	if len(k) > 8 && strings.EqualFold(k[:8], "x-envoy-") {
		return true
	}
	for _, t := range o.connTokens {
		if strings.EqualFold(k, t) {
			return true
		}
	}
	return false
}

// header returns the request headers as they will reach the upstream, for
// the engine built on net/http.
func (o *outbound) header() http.Header {
	h := make(http.Header, len(o.in.Header)+len(o.extra))
	for k, vs := range o.in.Header {
		if !o.skip(k) {
			h[k] = vs
		}
	}
	for _, e := range o.extra {
		h.Add(e.k, e.v)
	}
	if o.upgrade != "" {
		h.Set("Connection", "Upgrade")
		h.Set("Upgrade", o.upgrade)
	}
	return h
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
