package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"golang.org/x/net/http2"
)

// h2cClient speaks HTTP/2 with prior knowledge to a plaintext port.
func h2cClient(t *testing.T, addr string) *http.Client {
	t.Helper()
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// security.md HTTP-04: a header name with an underscore (X_Forwarded_For),
// which CGI and WSGI upstreams read as X-Forwarded-For, is refused with
// 400 by default over HTTP/1.1 and HTTP/2 and never reaches the upstream;
// the Gateway annotation gatehouse.io/headers-with-underscores drops such
// headers or lets them through.
func TestHTTP04HeaderNamesWithUnderscores(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		annotation string
		code       int
		forwarded  bool
	}{
		{"", http.StatusBadRequest, false},
		{"reject", http.StatusBadRequest, false},
		{"drop", http.StatusOK, false},
		{"allow", http.StatusOK, true},
	} {
		t.Run("annotation="+tc.annotation, func(t *testing.T) {
			t.Parallel()
			ch := make(chan seen, 4)
			gw := grpcGateway // HTTP/1.1 and h2c on one port
			if tc.annotation != "" {
				gw = strings.Replace(gw, "metadata: {name: gw}", fmt.Sprintf("metadata: {name: gw, annotations: {%s: %s}}", mesh.AnnotationHeadersWithUnderscores, tc.annotation), 1)
			}
			g := startGW(t, map[string]string{"gw.yaml": gw, "vs.yaml": vsTo(startUpstream(t, recorder(ch)))})
			addr := g.srv.Addr(80).String()
			for _, c := range []*http.Client{http.DefaultClient, h2cClient(t, addr)} {
				req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
				req.Header["X_Forwarded_For"] = []string{"10.0.0.1"}
				req.Header.Set("X-Other", "kept")
				code, _, _ := doWith(t, c, req)
				if code != tc.code {
					t.Fatalf("status %d, want %d", code, tc.code)
				}
				if tc.code != http.StatusOK {
					continue
				}
				s := <-ch
				if _, ok := s.Header["X_forwarded_for"]; ok != tc.forwarded {
					t.Errorf("upstream headers %v: X_Forwarded_For forwarded = %v, want %v", s.Header, ok, tc.forwarded)
				}
				if s.Header.Get("X-Other") != "kept" {
					t.Errorf("upstream lost X-Other: %v", s.Header)
				}
			}
			select {
			case s := <-ch:
				t.Fatalf("a refused request reached the upstream: %+v", s)
			default:
			}
		})
	}
}

// An unknown value of the annotation is a configuration error with its
// position, never a silent default.
func TestHeadersWithUnderscoresAnnotationValue(t *testing.T) {
	t.Parallel()
	gw := strings.Replace(httpGateway, "metadata: {name: gw}", "metadata: {name: gw, annotations: {gatehouse.io/headers-with-underscores: ignore}}", 1)
	_, problems, _, err := checkDir(t, map[string]string{"gw.yaml": gw})
	if err == nil || len(problems) != 1 || !strings.Contains(problems[0].String(), `gw.yaml:3: Gateway default/gw: metadata.annotations: gatehouse.io/headers-with-underscores: "ignore": want reject, drop or allow`) {
		t.Fatalf("problems %v, err %v", problems, err)
	}
}

// More than 100 request header fields (Envoy's max_headers_count) is 431
// over HTTP/1.1 and HTTP/2 and never reaches the upstream; the Gateway
// annotation gatehouse.io/max-request-headers moves the limit.
func TestMaxRequestHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		annotation string
		fields     int
		code       int
	}{
		{"", 90, http.StatusOK},
		{"", 110, http.StatusRequestHeaderFieldsTooLarge},
		{"", 1500, http.StatusRequestHeaderFieldsTooLarge},
		{"300", 250, http.StatusOK},
		{"300", 320, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(fmt.Sprintf("limit %s, %d fields", tc.annotation, tc.fields), func(t *testing.T) {
			t.Parallel()
			ch := make(chan seen, 4)
			gw := grpcGateway
			if tc.annotation != "" {
				gw = strings.Replace(gw, "metadata: {name: gw}", fmt.Sprintf("metadata: {name: gw, annotations: {%s: %q}}", mesh.AnnotationMaxRequestHeaders, tc.annotation), 1)
			}
			g := startGW(t, map[string]string{"gw.yaml": gw, "vs.yaml": vsTo(startUpstream(t, recorder(ch)))})
			addr := g.srv.Addr(80).String()
			for _, c := range []*http.Client{http.DefaultClient, h2cClient(t, addr)} {
				req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
				for i := range tc.fields - 3 { // and Host, User-Agent, Accept-Encoding
					req.Header.Set(fmt.Sprintf("X-H%d", i), "v")
				}
				code, _, _ := doWith(t, c, req)
				if code != tc.code {
					t.Fatalf("%s: status %d, want %d", c.Transport, code, tc.code)
				}
				if code == http.StatusOK {
					<-ch
				}
			}
			select {
			case s := <-ch:
				t.Fatalf("a refused request reached the upstream with %d headers", len(s.Header))
			default:
			}
		})
	}
}
