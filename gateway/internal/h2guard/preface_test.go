package h2guard

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// Exchanges of the preface tests.
const (
	get      = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	h2cReq   = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: \r\n\r\n"
	h2c101   = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
	wsReq    = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	ws101    = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	ok200    = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	wsFrame  = "\x81\x85abcdPRI *"
	settings = "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
)

// step is one turn of a conversation: the client's bytes, read by the
// engine in pieces of at most size bytes, then the server's writes.
type step struct {
	client string
	size   int // 0: 4096
	server []string
}

// converse plays steps against a guard and returns it with what the engine
// read and what went to the client.
func converse(t *testing.T, lim Limits, steps []step) (g *Conn, read, written string) {
	t.Helper()
	f := newFake()
	g = New(f, lim, func(string) { t.Error("the guard closed the connection") })
	var all []byte
	for _, s := range steps {
		f.pieces = append(f.pieces, []byte(s.client))
		size := s.size
		if size == 0 {
			size = 4096
		}
		got, err := readAll(t, g, size)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("Read: %v", err)
		}
		all = append(all, got...)
		for _, w := range s.server {
			if n, err := g.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
	}
	out, _, _ := f.state()
	return g, string(all), string(out)
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name   string
		steps  []step
		active bool
		mode   int32
	}{
		{"prior knowledge", []step{{client: preface + settings}}, true, modeActive},
		{"prior knowledge a byte at a time", []step{{client: preface + settings, size: 1}}, true, modeActive},
		{"preface alone", []step{{client: preface}}, true, modeActive},
		{"server writes first, as x/net does", []step{{server: []string{settings}}, {client: preface, size: 5}}, true, modeActive},
		{"preface not finished", []step{{client: preface[:20]}}, false, modeDetect},
		{"HTTP/1.1", []step{{client: get, server: []string{ok200}}}, false, modeHTTP1},
		{"a near miss", []step{{client: "PRI * HTTP/1.1\r\n\r\n"}}, false, modeHTTP1},
		{"a near miss late", []step{{client: preface[:23] + "x", size: 1}}, false, modeHTTP1},
		{"h2c after a 101", []step{{client: h2cReq, server: []string{h2c101, settings}}, {client: preface + settings}}, true, modeActive},
		{"h2c 101 and frames in one write", []step{{client: h2cReq, server: []string{h2c101 + settings}}, {client: preface, size: 3}}, true, modeActive},
		{"h2c 101, client not yet sent", []step{{client: h2cReq, server: []string{h2c101}}}, false, modeUpgrade},
		{"a 200 is no upgrade", []step{{client: h2cReq, server: []string{ok200}}, {client: preface}}, false, modeHTTP1},
		{"a 101 only counts at the start of a Write", []step{{client: h2cReq, server: []string{"x" + h2c101}}, {client: preface}}, false, modeHTTP1},
		{"WebSocket 101 stays inactive", []step{{client: wsReq, server: []string{ws101}}, {client: wsFrame}}, false, modeRaw},
		{
			name: "and for good",
			steps: []step{
				{client: wsReq, server: []string{ws101}},
				{client: wsFrame, server: []string{h2c101}},
				{client: preface},
			},
			mode: modeRaw,
		},
		{"WebSocket frames a byte at a time", []step{{client: wsReq, server: []string{ws101}}, {client: wsFrame, size: 1}}, false, modeRaw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, read, written := converse(t, Limits{}, tt.steps)
			var client, server strings.Builder
			for _, s := range tt.steps {
				client.WriteString(s.client)
				server.WriteString(strings.Join(s.server, ""))
			}
			if g.Active() != tt.active || g.mode.Load() != tt.mode {
				t.Errorf("Active() = %v in mode %d, want %v in mode %d", g.Active(), g.mode.Load(), tt.active, tt.mode)
			}
			if read != client.String() || written != server.String() {
				t.Errorf("the guard changed the bytes: read %q, wrote %q", read, written)
			}
		})
	}
}

// TestUpgradeCountsStreamOne checks that after an h2c upgrade the upgrade
// request is stream 1: opened, and the GOAWAY's last stream id at least.
func TestUpgradeCountsStreamOne(t *testing.T) {
	g, _, _ := converse(t, Limits{}, []step{
		{client: h2cReq, server: []string{h2c101}},
		{client: preface + settings + string(rst(1))},
	})
	if g.rd.opened != 1 || g.rd.resets != 1 || g.rd.maxID != 1 {
		t.Errorf("opened %d, resets %d, max id %d; want 1, 1, 1", g.rd.opened, g.rd.resets, g.rd.maxID)
	}
}

// TestInactiveIsUntouched checks that an HTTP/1.1 connection reads and
// writes through, with the Write side not following frames.
func TestInactiveIsUntouched(t *testing.T) {
	big := strings.Repeat("x", 100000)
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
	post := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + big
	g, read, written := converse(t, Limits{}, []step{
		{client: get, server: []string{resp, big}},
		{client: post, size: 7},
	})
	if g.Active() || g.wr != (writer{}) {
		t.Errorf("Active() = %v, writer %+v; want false and untouched", g.Active(), g.wr)
	}
	if read != get+post || written != resp+big {
		t.Errorf("read %d and wrote %d bytes, want %d and %d", len(read), len(written), len(get+post), len(resp+big))
	}
}
