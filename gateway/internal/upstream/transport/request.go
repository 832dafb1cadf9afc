package transport

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Field is one header line the gateway adds to an upstream request.
type Field struct{ Name, Value string }

// Request describes the request to send upstream without copying the
// inbound one. The inbound header map is made the upstream request's
// (sanitized, then the forwarding headers, then the route's header
// operations) and written out as it stands, minus the framing headers each
// engine writes itself; Extra holds the few lines that change per attempt.
// Every engine takes this same description.
type Request struct {
	// Fields is the client's header map as the proxy edited it for the
	// upstream: it is sent as it stands, minus the framing fields.
	Fields   http.Header
	Method   string
	Path     string // escaped path, normalized or rewritten
	RawQuery string
	Host     string // the Host header to send
	Extra    []Field
	// Upgrade is the protocol the client asked to switch to ("websocket"),
	// or "" for an ordinary request.
	Upgrade string
	// BodyLen is the request body length: 0 none, -1 unknown (chunked).
	BodyLen int64
	// Body is what the next attempt sends.
	Body           io.Reader
	ConnectTimeout time.Duration
	// StreamIdle is the stream idle timeout: how long the exchange may
	// see nothing move, either way, before it ends (zero: never).
	StreamIdle time.Duration
	// Client is the client's side of the exchange; the proxy sets it.
	Client Client
	// upConn is the HTTP/1.1 upstream connection of the current attempt,
	// whose read deadline enforces streamIdle; nil on other engines.
	upConn *h1Conn
	// idle is the stream idle timeout of an attempt on another engine.
	idle *streamIdle
}

// Client is the client's side of an exchange, which the proxy owns: the
// client's body, whether the request may be sent again, and the deadlines
// of the body's reads. The engines call it as they send the body.
type Client interface {
	// Replayable reports whether the request can be sent again, on another
	// connection or to another endpoint.
	Replayable() bool
	// Rewind prepares the body for another attempt.
	Rewind()
	// TrailerBody returns the request trailers that may reach an upstream,
	// and the body to send in place of Request.Body, which fills in their
	// values when it ends.
	TrailerBody() (http.Header, io.Reader)
	// BodyReadDeadline bounds the next read of the client's body. It
	// reports false once AbortBody was called: the body must not be read
	// any more.
	BodyReadDeadline(t time.Time) bool
	// BodyEnd records that the client's body has been read to its end (or
	// failed).
	BodyEnd()
	// SendingBody records that the client's body is being copied upstream.
	SendingBody()
	// AbortBody makes a blocked read of the client's body, and every later
	// one, fail at once.
	AbortBody()
	// BodyRefused returns the listener validator's refusal of the
	// client's body, or nil.
	BodyRefused() error
}

// Add adds a header line to send.
func (o *Request) Add(k, v string) { o.Extra = append(o.Extra, Field{k, v}) }

// HasBody reports whether a request body follows the head.
func (o *Request) HasBody() bool { return o.BodyLen != 0 }

// Idempotent reports whether sending the request twice is harmless, so a
// pooled connection the upstream closed may be retried transparently (as
// net/http's Transport decides).
func (o *Request) Idempotent() bool {
	switch o.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	h := o.Fields
	return len(h["Idempotency-Key"]) > 0 || len(h["X-Idempotency-Key"]) > 0
}

// Skip reports whether header k of the prepared request map is written by
// the engine itself rather than copied.
func (o *Request) Skip(k string) bool {
	switch k {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer":
		return true
	}
	return false
}

// Header returns the request headers as they will reach the upstream, for
// the engines built on net/http, checking the request line and each field
// as it is copied, as the HTTP/1.1 writer does. net/http's own checks
// differ by engine: its HTTP/1.1 client sends an invalid Host as an empty
// one, both escape control bytes in the path, and its HTTP/2 client sends
// those of the query as they stand.
func (o *Request) Header() (http.Header, error) {
	if err := o.checkLine(); err != nil {
		return nil, err
	}
	h := make(http.Header, len(o.Fields)+len(o.Extra))
	for k, vs := range o.Fields {
		if o.Skip(k) {
			continue
		}
		for _, v := range vs {
			if err := checkField(k, v); err != nil {
				return nil, err
			}
		}
		h[k] = vs
	}
	for _, e := range o.Extra {
		if err := checkField(e.Name, e.Value); err != nil {
			return nil, err
		}
		h.Add(e.Name, e.Value)
	}
	if o.Upgrade != "" {
		if err := checkField("Upgrade", o.Upgrade); err != nil {
			return nil, err
		}
		h.Set("Connection", "Upgrade")
		h.Set("Upgrade", o.Upgrade)
	}
	return h, nil
}

// checkLine checks what the request line and the Host are made of: a
// token for the method; for the path, the query and the Host, bytes that
// are neither control bytes nor spaces.
func (o *Request) checkLine() error {
	switch {
	case o.Method == "" || !valid(o.Method, tokenByte):
		return &RequestError{Part: "method"}
	case !valid(o.Path, visibleByte):
		return &RequestError{Part: "path"}
	case !valid(o.RawQuery, visibleByte):
		return &RequestError{Part: "query"}
	case !valid(o.Host, visibleByte):
		return &RequestError{Part: "host"}
	}
	return nil
}

// contentLength returns the Content-Length value to send, if any.
func (o *Request) contentLength() (string, bool) {
	switch {
	case o.BodyLen > 0:
		return strconv.FormatInt(o.BodyLen, 10), true
	case o.BodyLen == 0 && (o.Method == "POST" || o.Method == "PUT" || o.Method == "PATCH"):
		return "0", true
	}
	return "", false
}

// AppendHead appends the request line and headers to b. Each string is
// checked as it is copied; on an error, b holds part of a head that must
// be dropped.
func (o *Request) AppendHead(b []byte) ([]byte, error) {
	b, err := appendLine(b, o)
	if err != nil {
		return b, err
	}
	for k, vs := range o.Fields {
		if o.Skip(k) {
			continue
		}
		for _, v := range vs {
			if b, err = appendField(b, k, v); err != nil {
				return b, err
			}
		}
	}
	for _, e := range o.Extra {
		if b, err = appendField(b, e.Name, e.Value); err != nil {
			return b, err
		}
	}
	if o.Upgrade != "" {
		b = append(b, "Connection: Upgrade\r\n"...)
		if b, err = appendField(b, "Upgrade", o.Upgrade); err != nil {
			return b, err
		}
	}
	if cl, ok := o.contentLength(); ok {
		b = append(append(append(b, "Content-Length: "...), cl...), "\r\n"...)
	} else if o.BodyLen < 0 {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	return append(b, "\r\n"...), nil
}

// appendLine appends the request line and the Host field.
func appendLine(b []byte, o *Request) ([]byte, error) {
	if err := o.checkLine(); err != nil {
		return b, err
	}
	b = append(append(append(b, o.Method...), ' '), o.Path...)
	if o.RawQuery != "" {
		b = append(append(b, '?'), o.RawQuery...)
	}
	b = append(append(b, " HTTP/1.1\r\nHost: "...), o.Host...)
	return append(b, "\r\n"...), nil
}

// appendField appends one header field.
func appendField(b []byte, k, v string) ([]byte, error) {
	if err := checkField(k, v); err != nil {
		return b, err
	}
	b = append(append(append(b, k...), ": "...), v...)
	return append(b, "\r\n"...), nil
}

// checkField checks a header field's name and value.
func checkField(k, v string) error {
	switch {
	case k == "" || !valid(k, tokenByte):
		return &RequestError{Part: "header name"}
	case !valid(v, valueByte):
		return &RequestError{Part: "header value", Name: k}
	}
	return nil
}

// Classes of the bytes a request head may hold.
const (
	tokenByte   = 1 << iota // a tchar: methods and field names (RFC 9110 5.6.2)
	valueByte               // a field value's: no control byte but HTAB (RFC 9110 5.5)
	visibleByte             // the request target's and the Host's: no control byte, no space
)

// byteClass gives each byte its classes.
var byteClass = func() (c [256]uint8) {
	const tchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for b := range 256 {
		switch {
		case b == '\t' || b == ' ':
			c[b] = valueByte
		case b < ' ' || b == 0x7f:
			// control bytes: none
		case strings.IndexByte(tchars, byte(b)) >= 0:
			c[b] = tokenByte | valueByte | visibleByte
		default:
			c[b] = valueByte | visibleByte
		}
	}
	return c
}()

// valid reports whether every byte of s is of class.
func valid(s string, class uint8) bool {
	for i := 0; i < len(s); i++ {
		if byteClass[s[i]]&class == 0 {
			return false
		}
	}
	return true
}

// touchUpstream records that the stream moved: the HTTP/1.1 upstream
// connection may stay silent for streamIdle from now.
func (o *Request) touchUpstream() {
	if pc := o.upConn; pc != nil && o.StreamIdle > 0 {
		pc.extendRead(time.Now().Add(o.StreamIdle))
	}
	o.idle.touch()
}

// IdleOr is the stream idle timeout, or d when it is unset.
func (o *Request) IdleOr(d time.Duration) time.Duration {
	if o.StreamIdle > 0 {
		return o.StreamIdle
	}
	return d
}

// errBodyAborted ends a read of the client's body after the exchange it
// fed has ended.
var errBodyAborted = errors.New("request body no longer read: the exchange ended")

// maxResponseHeaderBytes caps an upstream response head; a larger one is a
// 502, never an unbounded read (security.md UP-05).
const maxResponseHeaderBytes = 64 << 10

// defaultStreamIdle bounds each read of the client's body when a request
// sets no StreamIdle: Envoy's stream_idle_timeout default, as
// mesh.StreamIdleTimeout is for listeners.
const defaultStreamIdle = 5 * time.Minute
