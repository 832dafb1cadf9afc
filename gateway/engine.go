package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
)

// engine sends one request to an endpoint and returns the response head;
// the body streams from the returned response. Two engines exist: gatehouse's
// own HTTP/1.1 client (leanEngine, the default) and one built on
// net/http's Transport (stdEngine), kept so that bench/ can compare them.
type engine interface {
	roundTrip(ctx context.Context, ep *endpoint, o *outbound) (*http.Response, error)
}

// leanEngine uses each endpoint's connPool.
type leanEngine struct{}

func (leanEngine) roundTrip(ctx context.Context, ep *endpoint, o *outbound) (*http.Response, error) {
	if ep.pool.h2 != nil {
		return idleExchange(ctx, o, func(ctx context.Context) (*http.Response, error) { return ep.pool.roundTripH2(ctx, o) })
	}
	return ep.pool.roundTrip(ctx, o)
}

// stdEngine is net/http's Transport, configured as a proxy would configure
// it.
type stdEngine struct{ tr *http.Transport }

func newStdEngine(dial DialFunc) *stdEngine {
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

func (e *stdEngine) roundTrip(ctx context.Context, ep *endpoint, o *outbound) (*http.Response, error) {
	if ep.pool.h2 != nil || ep.pool.tls != nil {
		return leanEngine{}.roundTrip(ctx, ep, o)
	}
	if strings.HasPrefix(ep.addr, "unix://") {
		return nil, &upstream.ConnectError{Err: errors.New("the net/http engine does not dial unix sockets")}
	}
	u := &url.URL{Scheme: "http", Host: ep.addr, Path: o.Path, RawPath: o.Path, RawQuery: o.RawQuery}
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
		req.Trailer, body = o.trailerBody()
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
