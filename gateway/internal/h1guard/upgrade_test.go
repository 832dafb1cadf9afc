package h1guard

import (
	"errors"
	"strings"
	"testing"
)

// Upgrade requests and responses.
const (
	wsReq      = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"
	ws101      = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	resp403    = "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"
	frames     = "\x81\x05hello\x00\r\n\nGET / HTTP/1.1\r\nX A: b\r\n\r\n"
	connect    = "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n"
	h2Preface  = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	h2Settings = "\x00\x00\x00\x04\x00\x00\x00\x00\x00" // an empty SETTINGS frame
	h2cReq     = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
	h2c101     = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
)

// exchange is what the client sends, then what the engine writes after
// reading everything it can.
type exchange struct {
	client string
	writes []string
}

// converse plays the exchanges against a guard: after each one's client
// bytes the engine reads until the client has nothing more for now, then
// writes. It returns what the engine read and what went to the client.
func converse(t *testing.T, lim Limits, xs []exchange) result {
	t.Helper()
	f := &fakeConn{more: true}
	var res result
	g := guarded(f, lim, &res)
	for _, x := range xs {
		f.push(x.client)
		drain(t, g, 4096, &res)
		if !errors.Is(res.err, errWait) {
			break
		}
		for _, w := range x.writes {
			if _, err := g.Write([]byte(w)); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
	}
	f.more = false
	if errors.Is(res.err, errWait) {
		drain(t, g, 4096, &res)
	}
	res.written = f.out.String()
	return res
}

func TestUpgrade(t *testing.T) {
	// full fills a hold of MaxHeaderBytes 200 after wsReq; over is one byte
	// more.
	full := strings.Repeat("\x00", 200)
	over := full + "\x00"
	tests := []struct {
		name    string
		lim     Limits
		xs      []exchange
		deliver string
		reason  string // of a 400 refusal; "" for none
	}{
		{
			name:    "101 passes what follows through",
			xs:      []exchange{{wsReq, []string{ws101}}, {frames, nil}},
			deliver: wsReq + frames,
		},
		{
			name:    "101 after 100 Continue in the same write",
			xs:      []exchange{{wsReq, []string{"HTTP/1.1 100 Continue\r\n\r\n" + ws101}}, {frames, nil}},
			deliver: wsReq + frames,
		},
		{
			name:    "status line in pieces",
			xs:      []exchange{{wsReq, []string{"HTTP/1.1 1", "03 Early Hints\r", "\nLink: x\r\n\r", "\nHTTP/1.", "0 101 OK\r\n\r\n"}}, {frames, nil}},
			deliver: wsReq + frames,
		},
		{
			name:    "403 resumes validation",
			xs:      []exchange{{wsReq, []string{resp403}}, {get, []string{"HTTP/1.1 200 OK\r\n\r\n"}}, {frames, nil}},
			deliver: wsReq + get,
			reason:  "request_line_invalid",
		},
		{
			name:    "103 then 200 resumes validation",
			xs:      []exchange{{wsReq, []string{"HTTP/1.1 103 Early Hints\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n"}}, {get, nil}},
			deliver: wsReq + get,
		},
		{
			name:    "a response that is not HTTP resumes validation",
			xs:      []exchange{{wsReq, []string{"garbage, twelve bytes or more"}}, {get + frames, nil}},
			deliver: wsReq + get,
			reason:  "request_line_invalid",
		},
		{
			name:    "data with the upgrade request is held until the 101",
			xs:      []exchange{{wsReq + frames, []string{ws101}}},
			deliver: wsReq + frames,
		},
		{
			name:    "data before the response is held until the 101",
			xs:      []exchange{{wsReq, nil}, {frames, []string{ws101}}, {frames, nil}},
			deliver: wsReq + frames + frames,
		},
		{
			name:    "h2c upgrade with the preface before the 101",
			xs:      []exchange{{h2cReq + h2Preface + h2Settings, []string{h2c101}}, {h2Settings, nil}},
			deliver: h2cReq + h2Preface + h2Settings + h2Settings,
		},
		{
			name:    "data after an interim response only stays held",
			xs:      []exchange{{wsReq, []string{"HTTP/1.1 100 Continue\r\n\r\n"}}, {frames, nil}},
			deliver: wsReq,
		},
		{
			name:    "data with CONNECT is held until the 200",
			xs:      []exchange{{connect + "\x16\x03\x01", []string{"HTTP/1.1 200 OK\r\n\r\n"}}, {frames, nil}},
			deliver: connect + "\x16\x03\x01" + frames,
		},
		{
			name:    "held next request delivered after a 403",
			xs:      []exchange{{wsReq + get, []string{resp403}}, {"\r\n" + get, nil}},
			deliver: wsReq + get + get,
		},
		{
			name:    "held unfinished head completed after a 403",
			xs:      []exchange{{wsReq + get[:10], []string{resp403}}, {get[10:], nil}},
			deliver: wsReq + get,
		},
		{
			name:    "held bytes that are not HTTP refused after a 403",
			xs:      []exchange{{wsReq + get + frames, []string{resp403}}},
			deliver: wsReq + get,
			reason:  "request_line_invalid",
		},
		{
			name:    "held bytes refused after CONNECT answered 407",
			xs:      []exchange{{connect + "\x16\x03\x01", []string{"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"}}},
			deliver: connect,
			reason:  "request_line_invalid",
		},
		{
			name:    "a held upgrade request after a 403 holds again",
			xs:      []exchange{{wsReq + wsReq + frames, []string{resp403}}, {"", []string{ws101}}},
			deliver: wsReq + wsReq + frames,
		},
		{
			name:    "a hold of exactly MaxHeaderBytes",
			lim:     Limits{MaxHeaderBytes: 200},
			xs:      []exchange{{wsReq, nil}, {full, []string{ws101}}},
			deliver: wsReq + full,
		},
		{
			name:    "a hold over MaxHeaderBytes with the request",
			lim:     Limits{MaxHeaderBytes: 200},
			xs:      []exchange{{wsReq + over, []string{ws101}}},
			deliver: wsReq,
			reason:  "data_before_upgrade_response",
		},
		{
			name:    "a hold growing over MaxHeaderBytes",
			lim:     Limits{MaxHeaderBytes: 200},
			xs:      []exchange{{wsReq + "\x00", nil}, {over[1:], []string{ws101}}},
			deliver: wsReq,
			reason:  "data_before_upgrade_response",
		},
		{
			name:    "upgrade with a body",
			xs:      []exchange{{"POST /ws HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nabc", []string{ws101}}, {frames, nil}},
			deliver: "POST /ws HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nabc" + frames,
		},
		{
			name:    "Upgrade without Connection is an ordinary request",
			xs:      []exchange{{"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n" + get, nil}},
			deliver: "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n" + get,
		},
		{
			name:    "Upgrade on HTTP/1.0 is ignored",
			xs:      []exchange{{"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n" + get, nil}},
			deliver: "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n" + get,
		},
		{
			name:    "CONNECT answered 200 opens a tunnel",
			xs:      []exchange{{connect, []string{"HTTP/1.1 200 OK\r\n\r\n"}}, {frames, nil}},
			deliver: connect + frames,
		},
		{
			name:    "CONNECT answered 403 resumes validation",
			xs:      []exchange{{connect, []string{resp403}}, {get + frames, nil}},
			deliver: connect + get,
			reason:  "request_line_invalid",
		},
		{
			name:    "101 to CONNECT also passes through",
			xs:      []exchange{{connect, []string{ws101}}, {frames, nil}},
			deliver: connect + frames,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := converse(t, tc.lim, tc.xs)
			if res.delivered != tc.deliver {
				t.Errorf("delivered %q, want %q", res.delivered, tc.deliver)
			}
			r := res.refusal(t)
			if got := reasonOf(r); got != tc.reason {
				t.Errorf("refusal reason %q, want %q", got, tc.reason)
			}
			var wrote string
			for _, x := range tc.xs {
				for _, w := range x.writes {
					wrote += w
				}
			}
			// A refusal comes after the engine's responses, or ends them.
			before, refused := strings.CutSuffix(res.written, string(responses[400]))
			if tc.reason != "" && (!refused || !strings.HasPrefix(wrote, before)) {
				t.Errorf("the client got %q, want the engine's %q up to a point, then the 400 refusal", res.written, wrote)
			}
			if tc.reason == "" && res.written != wrote {
				t.Errorf("the client got %q, want only the engine's %q", res.written, wrote)
			}
		})
	}
}

func reasonOf(r *Refusal) string {
	if r == nil {
		return ""
	}
	return r.Reason
}
