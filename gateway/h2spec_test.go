package gateway

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2specAllowed are the h2spec cases gatehouse fails on purpose, or by
// its HTTP/2 server, each with why; keyed "package: description".
var h2specAllowed = map[string]string{
	// x/net/http2 applies the last of several SETTINGS_INITIAL_WINDOW_SIZE
	// values in one SETTINGS frame, where the case wants each applied in
	// turn (a negative window in between): a framer detail with no effect
	// on what is forwarded.
	"http2/6.5.3: Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE": "x/net/http2 settings",
	// A request carrying a connection-specific header (Connection,
	// Keep-Alive, ...) or a TE other than "trailers" is answered 400 by
	// Go's HTTP/2 server before any gatehouse code runs, and never
	// forwarded (TestH2MalformedHeadersNeverForwarded); RFC 9113 8.1.1
	// allows that response but wants the stream reset after it, and the
	// server offers no hook to reset instead.
	"http2/8.1.2.2: Sends a HEADERS frame that contains the connection-specific header field":                       "net/http answers 400",
	"http2/8.1.2.2: Sends a HEADERS frame that contains the TE header field with any value other than \"trailers\"": "net/http answers 400",
}

// h2specAllowedH2C are further cases allowed on a plaintext port, which
// serves HTTP/1.1 as well as HTTP/2 by prior knowledge (as Envoy's codec
// detection does): bytes that are not the HTTP/2 preface are an HTTP/1.1
// request, and this one gets 400 before the close.
var h2specAllowedH2C = map[string]string{
	"http2/3.5: Sends invalid connection preface": "read as a malformed HTTP/1.1 request",
}

// h2specBinary finds the h2spec binary (.ci/run installs it with go
// install); "" when it is not there.
func h2specBinary() string {
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	if gp, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gp)), "bin", "h2spec")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

type h2specReport struct {
	Suites []struct {
		Cases []struct {
			Package string    `xml:"package,attr"`
			Name    string    `xml:"classname,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// HTTP/2 conformance, checked by a suite gatehouse did not write: h2spec
// against the TLS listener and the h2c (prior knowledge) one, in front of
// a go-httpbin upstream. Every case passes or is on h2specAllowed.
func TestH2Spec(t *testing.T) {
	bin := h2specBinary()
	if bin == "" {
		t.Skip("h2spec is not installed (go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible); .ci/run installs it")
	}
	t.Parallel()
	ca := newTestCA(t, "edge")
	cert := ca.issue("edge", "localhost", "127.0.0.1")
	g := startGW(t, map[string]string{
		"gw.yaml": fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n"+
			"  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: %s\n"+
			"  - port: {number: 80, name: h2c, protocol: HTTP2}\n    hosts: [\"*\"]\n", simpleTLS(cert)),
		"vs.yaml": vsTo(httpbinPort(t)),
	})
	for _, tc := range []struct {
		name string
		port uint32
		tls  bool
	}{{"TLS", 443, true}, {"h2c", 80, false}} {
		t.Run(tc.name, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "h2spec.xml")
			args := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(portOf(t, g.srv.Addr(tc.port))), "--timeout", "3", "-j", report}
			if tc.tls {
				args = append(args, "-t", "-k")
			}
			out, _ := exec.Command(bin, args...).CombinedOutput() // exits 1 on any failure
			data, err := os.ReadFile(report)
			if err != nil {
				t.Fatalf("h2spec wrote no report: %v\n%s", err, out)
			}
			var r h2specReport
			if err := xml.Unmarshal(data, &r); err != nil {
				t.Fatalf("h2spec report: %v", err)
			}
			var failed, allowed []string
			ran := 0
			for _, s := range r.Suites {
				for _, c := range s.Cases {
					ran++
					if c.Failure == nil && c.Error == nil {
						continue
					}
					key := c.Package + ": " + c.Name
					_, ok := h2specAllowed[key]
					if _, h2c := h2specAllowedH2C[key]; h2c && !tc.tls {
						ok = true
					}
					if ok {
						allowed = append(allowed, key)
					} else {
						failed = append(failed, key)
					}
				}
			}
			if ran < 140 {
				t.Fatalf("h2spec ran %d cases, want the whole suite\n%s", ran, out)
			}
			if len(failed) > 0 {
				t.Errorf("h2spec cases failed: %v\n%s", failed, out)
			}
			slices.Sort(allowed)
			t.Logf("%d cases, %d failed on the allow-list: %v", ran, len(allowed), allowed)
		})
	}
}

// A HEADERS frame carrying a connection-specific header field or a TE
// other than "trailers" is malformed HTTP/2 (RFC 9113 8.2.2): it is
// refused and never forwarded, whatever the client.
func TestH2MalformedHeadersNeverForwarded(t *testing.T) {
	t.Parallel()
	port, hits := countingUpstream(t)
	g := startGW(t, oneRoute(port, ""))
	for _, extra := range [][2]string{{"connection", "keep-alive"}, {"keep-alive", "timeout=5"}, {"proxy-connection", "x"},
		{"transfer-encoding", "chunked"}, {"upgrade", "websocket"}, {"te", "gzip"}} {
		c := g.dial(80)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, http2Preface)
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		var block bytes.Buffer
		enc := hpack.NewEncoder(&block)
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}, extra} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
		status := ""
		for status == "" {
			f, err := fr.ReadFrame()
			if err != nil {
				status = "closed"
				break
			}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				status = "reset " + f.ErrCode.String()
			case *http2.GoAwayFrame:
				status = "goaway " + f.ErrCode.String()
			case *http2.HeadersFrame:
				d := hpack.NewDecoder(4096, nil)
				fields, _ := d.DecodeFull(f.HeaderBlockFragment())
				for _, hf := range fields {
					if hf.Name == ":status" {
						status = hf.Value
					}
				}
			}
		}
		if status == "200" {
			t.Errorf("%s: %s: answered 200", extra[0], extra[1])
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the upstream saw %d malformed requests", n)
	}
}
