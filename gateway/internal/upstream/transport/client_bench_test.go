package transport

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// fixedUpstream answers every HTTP/1.1 request on its connections with
// the same small response, doing as little as it can, so that the
// benchmarks below measure the clients.
func fixedUpstream(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					// A request without a body ends at its blank line.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(bytes.TrimRight(line, "\r\n")) == 0 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkUpstreamClient is one keep-alive GET and its 5-byte answer
// through each HTTP/1.1 client the gateway could use upstream: its own
// pooled client (the default), net/http's Transport, and fasthttp's
// HostClient (issue: the HTTP/1.1 engine). Sequential, one connection:
// the figures are the client's cost per request.
func BenchmarkUpstreamClient(b *testing.B) {
	addr := fixedUpstream(b)
	header := http.Header{"User-Agent": {"bench"}, "Accept": {"*/*"}, "X-Forwarded-For": {"10.0.0.1"},
		"X-Request-Id": {"6f1e2d3c-0000-4000-8000-000000000000"}}
	b.Run("client=gatehouse", func(b *testing.B) {
		var d net.Dialer
		ps := NewPoolSet(d.DialContext)
		b.Cleanup(ps.CloseAll)
		p := ps.Get(PoolKey{Addr: addr}, PoolOptions{})
		o := &Request{}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			*o = Request{Fields: header, Method: http.MethodGet, Path: "/hello", Host: "svc.test", ConnectTimeout: time.Second}
			o.Client = testClient{o}
			resp, err := LeanEngine{}.RoundTrip(ctx, p, o)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("client=net/http", func(b *testing.B) {
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		b.Cleanup(tr.CloseIdleConnections)
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/hello", nil)
		req.Host, req.Header = "svc.test", header
		b.ReportAllocs()
		for b.Loop() {
			resp, err := tr.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("client=fasthttp", func(b *testing.B) {
		hc := &fasthttp.HostClient{Addr: addr, MaxConns: 1}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		b.Cleanup(func() { fasthttp.ReleaseRequest(req); fasthttp.ReleaseResponse(resp) })
		b.ReportAllocs()
		for b.Loop() {
			req.Reset()
			req.SetRequestURI("/hello")
			req.Header.SetHost("svc.test")
			for k, vs := range header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			if err := hc.Do(req, resp); err != nil {
				b.Fatal(err)
			}
			if len(resp.Body()) != 5 {
				b.Fatalf("body %q", resp.Body())
			}
		}
	})
}
