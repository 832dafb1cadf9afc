package h1guard

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// TestServerWebSocket upgrades through a hijacking handler: after the 101,
// bytes that are not HTTP pass both ways. A client may send its first
// frames before the 101 arrives, with the request or after it: the guard
// holds them until the handler's 101 and the handler reads them first.
func TestServerWebSocket(t *testing.T) {
	const first = "\x81\x05first"
	tests := []struct {
		name    string
		withReq string // sent in the request's write
		before  string // sent in a write of its own, before the 101 is read
	}{
		{name: "frames after the 101"},
		{name: "a frame with the request", withReq: first},
		{name: "a frame before the 101", before: first},
		{name: "frames with the request and before the 101", withReq: first, before: frames},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReadCount(len(wsReq) + len(tc.withReq) + len(tc.before))
			addr, refusals := serveOn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc.await(t, r)
				conn, brw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				brw.WriteString(ws101)
				brw.Flush()
				io.Copy(conn, brw)
			}), guardListener{under: rc.wrap})
			c := dial(t, addr)
			c.Write([]byte(wsReq + tc.withReq))
			if tc.before != "" {
				c.Write([]byte(tc.before))
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 {
				t.Fatalf("upgrade response %v, %v; want 101", resp, err)
			}
			c.Write([]byte(frames))
			c.(*net.TCPConn).CloseWrite()
			want := tc.withReq + tc.before + frames
			if echo, err := io.ReadAll(br); err != nil || string(echo) != want {
				t.Errorf("echo %q, %v; want %q", echo, err, want)
			}
			noRefusal(t, refusals)
		})
	}
}

// TestServerUpgradeDenied answers upgrade requests with 403 while the
// client's next bytes are already held: a valid request among them is
// served next, anything else gets the guard's 400 after the 403.
func TestServerUpgradeDenied(t *testing.T) {
	tests := []struct {
		name, early string
		reason      string // of the refusal, "" for none
	}{
		{name: "a pipelined request is served", early: get},
		{name: "a frame is refused", early: frames, reason: "request_line_invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReadCount(len(wsReq) + len(tc.early))
			addr, refusals := serveOn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Upgrade") != "" {
					rc.await(t, r)
					http.Error(w, "no upgrade", http.StatusForbidden)
					return
				}
				io.WriteString(w, "ok")
			}), guardListener{under: rc.wrap})
			c := dial(t, addr)
			c.Write([]byte(wsReq + tc.early))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 403 {
				t.Fatalf("upgrade response %v, %v; want 403", resp, err)
			}
			io.Copy(io.Discard, resp.Body)
			if tc.reason != "" {
				rest, err := io.ReadAll(br)
				if err != nil || string(rest) != string(responses[400]) {
					t.Errorf("after the 403 the client got %q, %v; want exactly the guard's 400", rest, err)
				}
				if r := <-refusals; r.Reason != tc.reason {
					t.Errorf("refusal reason %q, want %q", r.Reason, tc.reason)
				}
				return
			}
			resp, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response to the held request: %v", err)
			}
			if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "ok" {
				t.Errorf("response to the held request %d %q, want 200 ok", resp.StatusCode, body)
			}
			noRefusal(t, refusals)
		})
	}
}

// TestServerH2CUpgrade is an h2c upgrade by a client that sends the
// HTTP/2 preface and its SETTINGS right behind the upgrade request, as
// RFC 9113's predecessor allowed: golang.org/x/net's h2c handler writes the
// 101, reads the held preface and answers the request on stream 1.
func TestServerH2CUpgrade(t *testing.T) {
	const body = "hello over h2c"
	early := h2Preface + h2Settings
	rc := newReadCount(len(h2cReq) + len(early))
	h2 := h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}), &http2.Server{})
	addr, refusals := serveOn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 {
			rc.await(t, r)
		}
		h2.ServeHTTP(w, r)
	}), guardListener{under: rc.wrap})
	c := dial(t, addr)
	c.Write([]byte(h2cReq + early))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade response %v, %v; want 101", resp, err)
	}
	fr := http2.NewFramer(c, br)
	var got []byte
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading HTTP/2 frames: %v, after %q of stream 1", err, got)
		}
		if d, ok := f.(*http2.DataFrame); ok && d.StreamID == 1 {
			got = append(got, d.Data()...)
			if d.StreamEnded() {
				break
			}
		}
	}
	if string(got) != body {
		t.Errorf("stream 1 carried %q, want %q", got, body)
	}
	noRefusal(t, refusals)
}
