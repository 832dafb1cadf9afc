package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// scriptedUpstream answers every request on every connection with resp,
// written as it stands, and reports on ended what the next read of that
// connection returned: io.EOF once the gateway closed it.
func scriptedUpstream(t *testing.T, resp string) (port uint32, ended <-chan error) {
	t.Helper()
	ch := make(chan error, 16)
	port = rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				ch <- err
				return
			}
			io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, resp); err != nil {
				ch <- err
				return
			}
		}
	})
	return port, ch
}

// logEntry reads the only access log line, in JSON.
func logEntry(t *testing.T, g *gw, file string) map[string]any {
	t.Helper()
	lines := readLog(t, g, file)
	if len(lines) != 1 {
		t.Fatalf("%d access log lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("access log line is not JSON: %v\n%s", err, lines[0])
	}
	return m
}

// UP-05: a response head whose framing is ambiguous or invalid is never
// relayed. The client gets 502 with Envoy's UPE flag, and the upstream
// connection is closed rather than pooled, since what follows the head
// cannot be told apart from the next response. Interim responses and
// ordinary framing still pass.
func TestUP05AmbiguousFramingIs502(t *testing.T) {
	t.Parallel()
	const ok = "HTTP/1.1 200 OK\r\n"
	const body = "5\r\nhello\r\n0\r\n\r\n"
	cases := []struct {
		name, resp string
		status     int
		body       string
	}{
		{"content-length and chunked", ok + "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 502, ""},
		{"chunked then content-length, other case", ok + "transfer-encoding: CHUNKED\r\ncontent-length: 16\r\n\r\n" + body, 502, ""},
		{"chunked, identity", ok + "Transfer-Encoding: chunked, identity\r\n\r\n" + body, 502, ""},
		{"identity", ok + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", 502, ""},
		{"two transfer-encoding fields", ok + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 502, ""},
		{"content-length values differ", ok + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 502, ""},
		{"content-length list", ok + "Content-Length: 5, 5\r\n\r\nhello", 502, ""},
		{"chunked on HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 502, ""},
		{"space before the colon", ok + "Transfer-Encoding : chunked\r\n\r\n" + body, 502, ""},
		{"chunked on 204", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 502, ""},
		{"100-continue then content-length and chunked", "HTTP/1.1 100 Continue\r\n\r\n" + ok + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 502, ""},
		{"two interim heads then chunked on HTTP/1.0", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 502, ""},

		{"control: chunked", ok + "Transfer-Encoding: chunked\r\n\r\n" + body, 200, "hello"},
		{"control: content-length", ok + "Content-Length: 5\r\n\r\nhello", 200, "hello"},
		{"control: equal content-length fields", ok + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 200, "hello"},
		{"control: interim head with content-length, final chunked", "HTTP/1.1 103 Early Hints\r\nContent-Length: 0\r\nLink: </a.css>\r\n\r\n" + ok + "Transfer-Encoding: chunked\r\n\r\n" + body, 200, "hello"},
		{"control: body that looks like a field", ok + "Transfer-Encoding: chunked\r\n\r\n15\r\nContent-Length: 4\r\n\r\n\r\n0\r\n\r\n", 200, "Content-Length: 4\r\n\r\n"},
		{"control: bare LF line ends", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n" + body, 200, "hello"},
		{"control: HTTP/1.0 with content-length", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port, ended := scriptedUpstream(t, tc.resp)
			file := filepath.Join(t.TempDir(), "access.log")
			g := startGW(t, accessLogConfig(port, file, "JSON"))
			status, got, _ := g.get(80, "app.example.com", "/up05")
			if status != tc.status || (tc.status == 200 && got != tc.body) {
				t.Fatalf("status %d body %q, want %d %q", status, got, tc.status, tc.body)
			}
			m := logEntry(t, g, file)
			if tc.status == 200 {
				if m["response_code_details"] != "via_upstream" {
					t.Errorf("details %v, want via_upstream", m["response_code_details"])
				}
				return
			}
			if m["response_flags"] != "UPE" || m["response_code_details"] != "upstream_reset_before_response_started{protocol_error}" {
				t.Errorf("flags %v details %v, want UPE upstream_reset_before_response_started{protocol_error}",
					m["response_flags"], m["response_code_details"])
			}
			select {
			case err := <-ended:
				if !errors.Is(err, io.EOF) {
					t.Errorf("the upstream connection was not closed: next read %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("the upstream connection was not closed")
			}
		})
	}
}

// h2Upstream is a prior-knowledge HTTP/2 upstream written with raw frames
// (Go's server never sends connection-specific fields): every stream is
// answered with :status 200, the given fields and body.
func h2Upstream(t *testing.T, fields [][2]string, body string) uint32 {
	t.Helper()
	return rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil {
			return
		}
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					fr.WriteSettingsAck()
				}
			case *http2.HeadersFrame:
				var hb bytes.Buffer
				enc := hpack.NewEncoder(&hb)
				enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
				for _, kv := range fields {
					enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
				}
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: hb.Bytes(), EndHeaders: true})
				fr.WriteData(f.StreamID, true, []byte(body))
			}
		}
	})
}

// h2Route routes every request to an HTTP/2 (prior knowledge) upstream.
func h2Route(port uint32, file string) map[string]string {
	cfg := accessLogConfig(port, file, "JSON")
	cfg["se.yaml"] = fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: h2}\nspec:\n  hosts: [h2.internal]\n  ports: [{number: 8000, name: h2, protocol: HTTP2}]\n  resolution: STATIC\n  endpoints:\n  - address: 127.0.0.1\n    ports: {h2: %d}\n", port)
	cfg["vs.yaml"] = catchAllVS("h2.internal")
	return cfg
}

// rawGet sends a GET on a connection of its own and reads the answer as
// it stands, without a client's checks.
func rawGet(t *testing.T, g *gw, path string) (status int, body string, h http.Header) {
	t.Helper()
	c := g.dial(80)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n")
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, _ := strings.Cut(string(raw), "\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head+"\r\n\r\n")), nil)
	if err != nil {
		t.Fatalf("%v:\n%s", err, raw)
	}
	return resp.StatusCode, rest, resp.Header
}

// UP-05 over HTTP/2: DATA frames delimit the body, so no field changes
// its framing, but net/http's client lets through Transfer-Encoding
// (malformed in HTTP/2) and Content-Length values that differ, which
// would reach an HTTP/1.1 client as they stand.
func TestUP05H2Framing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		fields [][2]string
		status int
		length []string // the Content-Length the client sees
	}{
		{"transfer-encoding", [][2]string{{"transfer-encoding", "chunked"}}, 502, nil},
		{"content-length and transfer-encoding", [][2]string{{"content-length", "5"}, {"transfer-encoding", "chunked"}}, 502, nil},
		{"content-length values differ", [][2]string{{"content-length", "5"}, {"content-length", "6"}}, 502, nil},
		{"content-length not a number", [][2]string{{"content-length", "5x"}}, 502, nil},
		{"control: content-length", [][2]string{{"content-length", "5"}}, 200, []string{"5"}},
		{"control: equal content-length values merged", [][2]string{{"content-length", "5"}, {"content-length", "5"}}, 200, []string{"5"}},
		{"control: no content-length", nil, 200, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "access.log")
			g := startGW(t, h2Route(h2Upstream(t, tc.fields, "hello"), file))
			status, body, h := rawGet(t, g, "/up05")
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			m := logEntry(t, g, file)
			if status == 502 && (m["response_flags"] != "UPE" || m["response_code_details"] != "upstream_reset_before_response_started{protocol_error}") {
				t.Errorf("flags %v details %v, want UPE upstream_reset_before_response_started{protocol_error}", m["response_flags"], m["response_code_details"])
			}
			if status == 200 && (!strings.Contains(body, "hello") || !slices.Equal(h["Content-Length"], tc.length)) {
				t.Errorf("body %q Content-Length %q, want hello and %q", body, h["Content-Length"], tc.length)
			}
		})
	}
}

// checkFraming sees the fields as received, whatever http.ReadResponse
// made of them, and allocates nothing.
// sniConfig is an HTTPS Gateway taking any SNI, a route that copies the
// SNI into a request header, and a JSON access log in file. With h2 the
// upstream is declared HTTP/2.
func sniConfig(t *testing.T, port uint32, file string, h2 bool) map[string]string {
	cert := newTestCA(t, "edge").issue("edge", "app.example.com")
	cfg, dest := accessLogConfig(port, file, "JSON"), fmt.Sprintf("127.0.0.1, port: {number: %d}", port)
	if h2 {
		cfg, dest = h2Route(port, file), "h2.internal"
	}
	cfg["gw.yaml"] = fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n"+
		"  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: %s\n", simpleTLS(cert))
	cfg["vs.yaml"] = catchAllVS(dest) + "    headers: {request: {set: {x-sni: \"%REQUESTED_SERVER_NAME%\"}}}\n"
	return cfg
}

// sniGet sends a GET over TLS with the given SNI and returns the status.
func sniGet(t *testing.T, g *gw, sni string) int {
	t.Helper()
	c, err := tls.Dial("tcp", g.srv.Addr(443).String(), &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("SNI %q: %v", sni, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /sni HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("SNI %q: %v", sni, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The TLS client chooses its SNI freely (crypto/tls takes any bytes), and
// a route may copy it into a request header with %REQUESTED_SERVER_NAME%:
// a CR LF in it could have split the upstream request. Such a name fails
// the handshake (tls.ErrInvalidSNI); behind that, the request writer
// refuses any control byte whatever its source
// (TestWriteHeadRefusesControlBytes). A good name goes through as usual,
// on every engine.
func TestSNIWithControlBytesNeverReachesUpstream(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"lean", "net/http", "h2"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			got := make(chan http.Header, 4)
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Clone()
			}))
			ts.Config.Protocols = new(http.Protocols)
			ts.Config.Protocols.SetHTTP1(true)
			ts.Config.Protocols.SetUnencryptedHTTP2(true)
			ts.Start()
			t.Cleanup(ts.Close)
			file := filepath.Join(t.TempDir(), "access.log")
			g := startGW(t, sniConfig(t, portOf(t, ts.Listener.Addr()), file, engine == "h2"),
				func(o *Options) { o.StdUpstream = engine == "net/http" })
			for _, sni := range []string{"evil.example.com\r\nX-Injected: yes", "evil.example.com\x00", "a b"} {
				if c, err := tls.Dial("tcp", g.srv.Addr(443).String(), &tls.Config{ServerName: sni, InsecureSkipVerify: true}); err == nil {
					c.Close()
					t.Errorf("SNI %q: the handshake succeeded", sni)
				}
			}
			if status := sniGet(t, g, "good.example.com"); status != 200 {
				t.Errorf("a good SNI: status %d, want 200", status)
			}
			if h := <-got; h.Get("X-Sni") != "good.example.com" || h.Get("X-Injected") != "" {
				t.Errorf("the upstream's first request has X-Sni %q X-Injected %q, want only the good request's",
					h.Get("X-Sni"), h.Get("X-Injected"))
			}
		})
	}
}

// The request writer checks every string it copies: whatever put a
// control byte into the request line or a field (a header rule, a claim,
// a rewrite, the client's TLS name or certificate), the request is
// refused, by every engine the same way.
