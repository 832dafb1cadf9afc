package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Engine sends one request to an endpoint and returns the response head;
// the body streams from the returned response. Two engines exist: gatehouse's
// own HTTP/1.1 client (LeanEngine, the default) and one built on
// net/http's Transport (NewStdEngine), kept so that bench/ can compare them.
type Engine interface {
	RoundTrip(ctx context.Context, p *Pool, o *Request) (*http.Response, error)
}

// LeanEngine uses each endpoint's Pool.
type LeanEngine struct{}

func (LeanEngine) RoundTrip(ctx context.Context, p *Pool, o *Request) (*http.Response, error) {
	if p.h2 != nil {
		return idleExchange(ctx, o, func(ctx context.Context) (*http.Response, error) { return p.roundTripH2(ctx, o) })
	}
	return p.roundTrip(ctx, o)
}

// stdEngine is net/http's Transport, configured as a proxy would configure
// it.
type stdEngine struct{ tr *http.Transport }

// NewStdEngine returns the engine built on net/http's Transport.
func NewStdEngine(dial DialFunc) Engine {
	return &stdEngine{tr: &http.Transport{
		DialContext:            dial,
		MaxIdleConns:           0,
		MaxIdleConnsPerHost:    maxIdlePerEndpoint,
		IdleConnTimeout:        idleConnTimeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		DisableCompression:     true,
		ExpectContinueTimeout:  time.Second,
	}}
}

func (e *stdEngine) RoundTrip(ctx context.Context, p *Pool, o *Request) (*http.Response, error) {
	if p.h2 != nil || p.tls != nil {
		return LeanEngine{}.RoundTrip(ctx, p, o)
	}
	if strings.HasPrefix(p.key.Addr, "unix://") {
		return nil, &ConnectError{Err: errors.New("the net/http engine does not dial unix sockets")}
	}
	u := &url.URL{Scheme: "http", Host: p.key.Addr, Path: o.Path, RawPath: o.Path, RawQuery: o.RawQuery}
	hdr, err := o.Header()
	if err != nil {
		return nil, err
	}
	req := &http.Request{
		Method: o.Method, URL: u, Host: o.Host, Header: hdr,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		ContentLength: o.BodyLen,
	}
	if o.BodyLen != 0 {
		var body io.Reader
		req.Trailer, body = o.Client.TrailerBody()
		req.Body = io.NopCloser(body)
	}
	return idleExchange(ctx, o, func(ctx context.Context) (*http.Response, error) {
		resp, err := e.tr.RoundTrip(req.WithContext(ctx))
		if err != nil {
			return nil, classifyStd(ctx, err)
		}
		return resp, nil
	})
}
