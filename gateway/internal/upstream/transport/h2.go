package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// newH2 builds the HTTP/2 client of a pool whose upstream speaks HTTP/2:
// with prior knowledge over plaintext (h2c, ServiceEntry port protocol
// HTTP2 or GRPC), or negotiated by ALPN over TLS. Its connections
// multiplex requests (h2Pool), so the pool's idle list is unused.
func (p *Pool) newH2() *h2Pool {
	tr := &http.Transport{
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		DisableCompression:     true,
		IdleConnTimeout:        p.idleTimeout(),
		HTTP2:                  &http.HTTP2Config{MaxReceiveBufferPerStream: 1 << 20, SendPingTimeout: 30 * time.Second},
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return p.Connect(ctx, p.limits.ConnectTimeout)
	}
	tr.Protocols = new(http.Protocols)
	scheme := "http"
	if p.tls != nil {
		cfg := p.tls.Clone()
		cfg.NextProtos = []string{"h2"}
		p.tls = cfg
		tr.DialTLSContext = dial
		tr.Protocols.SetHTTP2(true)
		scheme = "https"
	} else {
		tr.DialContext = dial
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return newH2Pool(p, tr, scheme)
}

// roundTripH2 sends o over the pool's HTTP/2 transport. Trailers (gRPC
// status) arrive in the response's Trailer once its body is read.
func (p *Pool) roundTripH2(ctx context.Context, o *Request) (*http.Response, error) {
	scheme := "http"
	if p.tls != nil {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: p.addr, Path: o.Path, RawPath: o.Path, RawQuery: o.RawQuery}
	hdr, err := o.Header()
	if err != nil {
		return nil, err
	}
	req := &http.Request{
		Method: o.Method, URL: u, Host: o.Host, Header: hdr,
		Proto: "HTTP/2.0", ProtoMajor: 2, ContentLength: o.BodyLen,
	}
	var body *clientBody
	if o.BodyLen != 0 {
		body = &clientBody{}
		req.Trailer, body.r = o.Client.TrailerBody()
		req.Body = io.NopCloser(body)
	}
	if te := o.Fields["Te"]; len(te) > 0 && HeaderHasToken(te, "trailers") {
		req.Header.Set("Te", "trailers")
	}
	resp, err := p.h2.roundTrip(req.WithContext(ctx))
	switch {
	case err == nil:
	case body != nil && body.failed() != nil:
		return nil, &ClientBodyError{Err: body.failed()} // the client's body broke: 400
	case o.Client.BodyRefused() != nil:
		// The validator refused the body; net/http's cancellation of the
		// request got to the stream before the read error did.
		return nil, &ClientBodyError{Err: o.Client.BodyRefused()}
	case errors.As(err, new(*ConnectError)), errors.As(err, new(*RefusedStreamError)):
		return nil, err
	default:
		return nil, classifyStd(ctx, err)
	}
	if err := checkH2Framing(resp.Header); err != nil {
		resp.Body.Close() // resets the stream; the connection carries on
		return nil, &ProtocolError{Err: err}
	}
	return resp, nil
}

// clientBody is the client's body as the HTTP/2 client reads it, keeping
// the read error (not io.EOF) that ended it: the transport reports it as
// its own failure, but the fault is the client's.
type clientBody struct {
	r   io.Reader
	err atomic.Pointer[error]
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err.Store(&err)
	}
	return n, err
}

// failed returns the read error that ended the body, or nil.
func (b *clientBody) failed() error {
	if e := b.err.Load(); e != nil {
		return *e
	}
	return nil
}

// checkH2Framing checks what net/http's HTTP/2 client lets through: a
// Transfer-Encoding field, which makes an HTTP/2 response malformed
// (RFC 9113 8.2.2), and several or invalid Content-Length values, which
// it ignores and which would reach an HTTP/1.1 client as they stand.
// Equal values are merged into one, as http.ReadResponse merges them.
func checkH2Framing(h http.Header) error {
	if _, ok := h["Transfer-Encoding"]; ok {
		return errH2TransferEncoding
	}
	cl := h["Content-Length"]
	if len(cl) == 0 {
		return nil
	}
	for _, v := range cl {
		if v != cl[0] {
			return errH2ContentLengths
		}
	}
	if _, err := strconv.ParseUint(cl[0], 10, 63); err != nil {
		return fmt.Errorf("upstream HTTP/2 response has an invalid Content-Length: %w", err)
	}
	h["Content-Length"] = cl[:1:1]
	return nil
}

var (
	errH2TransferEncoding = errors.New("upstream HTTP/2 response has Transfer-Encoding")
	errH2ContentLengths   = errors.New("upstream HTTP/2 response has Content-Length values that differ")
)

// classifyStd turns an error of net/http's Transport into the gateway's.
func classifyStd(ctx context.Context, err error) error {
	var oe *net.OpError
	var te tls.RecordHeaderError
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case refusedByNetHTTP(err):
		return &RequestError{Part: "request", Err: err}
	case errors.As(err, &oe) && oe.Op == "dial", errors.As(err, &te), isHandshakeError(err):
		return &ConnectError{Err: err}
	case notProcessed(err):
		return &RefusedStreamError{Err: err}
	}
	return &ResetError{Err: err}
}

// netHTTPRefusals begin the messages of net/http's checks of a request it
// will not send. Request.Header checks first, so they are a backstop.
var netHTTPRefusals = []string{
	"net/http: invalid header field", "net/http: can't write control character", "http: invalid Host header",
	"http2: invalid Host header", "http2: invalid HTTP header", "http2: invalid HTTP trailer", "http2: invalid request :path",
}

// refusedByNetHTTP reports whether net/http refused to send a request.
func refusedByNetHTTP(err error) bool {
	msg := err.Error()
	for _, p := range netHTTPRefusals {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func isHandshakeError(err error) bool {
	var ce *tls.CertificateVerificationError
	return errors.As(err, &ce)
}
