package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// security.md HTTP-08: HTTP/2 requests that would change meaning when
// forwarded as HTTP/1.1, sent with the Framer over h2c with prior
// knowledge. Where the catalogue accepts a stream error or a 400, the
// HTTP/2 server's own checks answer with a stream error (RST_STREAM
// PROTOCOL_ERROR: CR LF in a value, an upper-case name, "cookie\t", a
// name with a space, CR LF in :path) and the gateway with a 400 (a
// transfer-encoding field, which net/http's HTTP/2 server refuses, and a
// space in :path, which gatehouse refuses). None of them reaches the
// upstream. Content-length 0 with DATA is a stream error too, but the
// request may go ahead first, framed as declared (Content-Length: 0, no
// body). The upstream never sees the request carried in a DATA frame as a
// request of its own: a request without content-length is re-framed from
// the DATA received (chunked), one with it carries exactly one
// Content-Length.
// ":authority: admin" with "host: public" is malformed (RFC 9113 8.3.1):
// 400, never forwarded.
func TestHTTP08H2Downgrade(t *testing.T) {
	t.Parallel()
	rec := hxRecord(t)
	g := startGW(t, oneRoute(rec.port, ""))
	addr := g.srv.Addr(80).String()
	smuggled := "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
	cases := []struct {
		name    string
		fields  [][2]string // after :method, :scheme and :path
		data    string
		answer  string // "": not asserted
		forward string // whether the upstream reads the request: yes, no or maybe
	}{
		// The handler starts on HEADERS: the request may go ahead, framed
		// by the content-length: 0 declared, with none of the DATA, and be
		// answered before the DATA resets the stream.
		{"content-length 0 with DATA", [][2]string{{":authority", "a"}, {"content-length", "0"}}, smuggled, "RST PROTOCOL_ERROR|200", "maybe"},
		{"a value with CR LF", [][2]string{{":authority", "a"}, {"x-a", "x\r\nTransfer-Encoding: chunked"}}, "", "RST PROTOCOL_ERROR", "no"},
		{"a transfer-encoding field", [][2]string{{":authority", "a"}, {"transfer-encoding", "chunked"}}, "0\r\n\r\n" + smuggled, "400", "no"},
		{"an upper-case name", [][2]string{{":authority", "a"}, {"X-Admin", "1"}}, "", "RST PROTOCOL_ERROR", "no"},
		{"a name cookie\\t", [][2]string{{":authority", "a"}, {"cookie\t", "session=admin"}}, "", "RST PROTOCOL_ERROR", "no"},
		{"a name with a space", [][2]string{{":authority", "a"}, {"x-a b", "1"}}, "", "RST PROTOCOL_ERROR", "no"},
		{":authority admin, host public", [][2]string{{":authority", "admin"}, {"host", "public"}}, "", "400", "no"},
		{"DATA holding a request", [][2]string{{":authority", "a"}}, smuggled, "200", "yes"},
		{"content-length 5 with its DATA", [][2]string{{":authority", "a"}, {"content-length", "5"}}, "hello", "200", "yes"},
	}
	var want []string
	maybe := map[string]bool{}
	t.Run("cases", func(t *testing.T) {
		for i, tc := range cases {
			path := fmt.Sprintf("/c%d", i)
			switch tc.forward {
			case "yes":
				want = append(want, path)
			case "maybe":
				maybe[path] = true
			}
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				fields := append([][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", path}}, tc.fields...)
				if got, _ := hxH2(t, addr, fields, tc.data); tc.answer != "" && !slices.Contains(strings.Split(tc.answer, "|"), got) {
					t.Errorf("answered %q, want %q", got, tc.answer)
				}
			})
		}
		for _, p := range []string{"/c9 /admin", "/c10 HTTP/1.1\r\nX: y"} {
			t.Run("a space in :path", func(t *testing.T) {
				t.Parallel()
				fields := [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", p}, {":authority", "a"}}
				if got, _ := hxH2(t, addr, fields, ""); got != "400" && got != "RST PROTOCOL_ERROR" {
					t.Errorf(":path %q answered %q, want 400 (a space) or a stream error (CR LF)", p, got)
				}
			})
		}
	})
	hxControl(t, g, "/control")
	seen, _ := rec.requests()
	for _, r := range seen {
		if maybe[r.URI] {
			want = append(want, r.URI)
		}
	}
	for _, r := range rec.only(t, append(want, "/control")...) {
		head, _, _ := strings.Cut(r.Raw, "\r\n\r\n")
		if hosts := strings.Count(strings.ToLower(head), "\r\nhost:"); hosts != 1 {
			t.Errorf("the upstream read %q, want exactly one Host", head)
		}
		lengths := strings.Count(strings.ToLower(head), "\r\ncontent-length:")
		switch r.URI {
		case "/c0":
			if lengths != 1 || r.BodyLen != 0 || r.Header.Get("Content-Length") != "0" {
				t.Errorf("the upstream read %q, want Content-Length: 0 and no body", r.Raw)
			}
		case "/c7":
			if r.Body != smuggled || r.Header.Get("Transfer-Encoding") != "" || !strings.Contains(head, "\r\nTransfer-Encoding: chunked") {
				t.Errorf("the upstream read %q: not re-framed, or the body changed", r.Raw)
			}
		case "/c8":
			if lengths != 1 || r.Body != "hello" {
				t.Errorf("the upstream read %q, want one Content-Length: 5", r.Raw)
			}
		}
	}
}

// hxH2 sends one request on a new prior-knowledge HTTP/2 connection to
// addr: fields in order in one HEADERS frame, then data (if any) in one
// DATA frame ending the stream. It returns the :status, or the stream or
// connection error that ended the exchange, and the body received.
func hxH2(t *testing.T, addr string, fields [][2]string, data string) (string, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// The preface and every frame of the request go out in one write.
	bw := bufio.NewWriter(c)
	bw.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(bw, c)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range fields {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: data == "", EndHeaders: true})
	if data != "" {
		fr.WriteData(1, true, []byte(data))
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	var status, body string
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return "no answer: " + err.Error(), body
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
				bw.Flush()
			}
		case *http2.HeadersFrame:
			dec.Write(f.HeaderBlockFragment())
			if f.StreamEnded() {
				return status, body
			}
		case *http2.DataFrame:
			body += string(f.Data())
			if f.StreamEnded() {
				return status, body
			}
		case *http2.RSTStreamFrame:
			return strings.TrimSpace(status + " RST " + f.ErrCode.String()), body
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo {
				return "GOAWAY " + f.ErrCode.String(), body
			}
		}
	}
}
