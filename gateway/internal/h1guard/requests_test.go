package h1guard

import (
	"strings"
	"testing"
)

// withField returns a GET head carrying the given field line(s).
func withField(lines string) string {
	return "GET / HTTP/1.1\r\nHost: a\r\n" + lines + "\r\n"
}

// bad returns a case refusing in, which follows the valid prefix.
func bad(name, prefix, in string, status int, reason string) streamCase {
	return streamCase{name: name, in: prefix + in + get, deliver: prefix, status: status, reason: reason}
}

// good returns a case delivering in whole.
func good(name, in string) streamCase {
	return streamCase{name: name, in: in, deliver: in}
}

// fieldCases are security.md HTTP-04 and HTTP-05: field syntax and limits.
func fieldCases() []streamCase {
	many := strings.Repeat("X-A: b\r\n", 10000)
	return []streamCase{
		// HTTP-04 `X-A: a\x00b`, `X-A: a\rb`, `X-A: b\r\n Transfer-Encoding: chunked`.
		bad("HTTP-04 NUL in a value", get, withField("X-A: a\x00b\r\n"), 400, "header_value_invalid"),
		bad("HTTP-04 CR in a value", get, withField("X-A: a\rb\r\n"), 400, "bare_cr"),
		bad("HTTP-04 obs-fold", get, withField("X-A: b\r\n Transfer-Encoding: chunked\r\n"), 400, "obs_fold"),
		bad("obs-fold with HTAB", "", withField("X-A: b\r\n\tc\r\n"), 400, "obs_fold"),
		// HTTP-04 a header name containing a space.
		bad("HTTP-04 space in a name", "", withField("X A: b\r\n"), 400, "header_name_invalid"),
		good("HTTP-04 non-ASCII in a value", withField("X-A: caf\xc3\xa9 \x80\xff\r\n")),
		good("HTAB and OWS in a value", withField("X-A:\t a\tb \t\r\nX-B:\r\n")),
		good("underscores are tchars", withField("X_Forwarded_For: 10.0.0.1\r\n")),
		bad("DEL in a value", "", withField("X-A: a\x7f\r\n"), 400, "header_value_invalid"),
		bad("bare LF ending a field", "", withField("X-A: a\nX-B: b\r\n"), 400, "bare_lf"),
		bad("bare LF ending the head", "", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare_lf"),
		bad("bare LF ending the request line", "", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare_lf"),
		bad("CR alone ending the head", "", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 400, "bare_cr"),
		bad("no colon", "", withField("X-A\r\n"), 400, "header_name_invalid"),
		bad("empty name", "", withField(": b\r\n"), 400, "header_name_invalid"),
		bad("name with a slash", "", withField("X/A: b\r\n"), 400, "header_name_invalid"),
		bad("HTTP/1.1 without Host", "", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400, "host_missing"),
		bad("two Host fields", "", withField("host: b\r\n"), 400, "host_repeated"),
		good("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n"),
		// HTTP-05 one 80 KiB header; 10 000 headers.
		bad("HTTP-05 80 KiB header", get, withField("X-A: "+strings.Repeat("a", 80<<10)+"\r\n"), 431, "headers_too_large"),
		bad("HTTP-05 10 000 headers", get, withField(many), 431, "too_many_headers"),
		good("100 headers", "GET / HTTP/1.1\r\n"+strings.Repeat("X-A: b\r\n", 99)+"Host: a\r\n\r\n"),
		bad("101 headers", "", "GET / HTTP/1.1\r\n"+strings.Repeat("X-A: b\r\n", 100)+"Host: a\r\n\r\n", 431, "too_many_headers"),
		{
			name: "head of exactly MaxHeaderBytes", lim: Limits{MaxHeaderBytes: len(get)},
			in: get + get, deliver: get + get,
		},
		{
			name: "head one byte over MaxHeaderBytes", lim: Limits{MaxHeaderBytes: len(get) - 1},
			in: get, status: 431, reason: "headers_too_large",
		},
		{
			name: "trailers count with the head", lim: Limits{MaxHeaders: 2},
			in: chunked + "0\r\nX-T: 1\r\n\r\n", deliver: chunked + "0\r\n",
			status: 431, reason: "too_many_headers", inBody: true,
		},
	}
}

// requestLineCases are request lines, HTTP-11, pipelining and empty lines.
func requestLineCases() []streamCase {
	const preface, settings = h2Preface, h2Settings
	h2c := Limits{AllowH2C: true}
	return []streamCase{
		good("pipelined GETs", get+get+get),
		good("HTTP/1.0 and HTTP/1.1", "GET / HTTP/1.0\r\n\r\n"+get),
		bad("a valid request then a bad one", get, "GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 400, "header_name_invalid"),
		{name: "an empty line before a request", in: "\r\n" + get + "\r\n\r\n" + get, deliver: get + get},
		{name: "four empty lines", in: strings.Repeat("\r\n", 4) + get, deliver: get},
		bad("five empty lines", "", strings.Repeat("\r\n", 5), 400, "leading_empty_lines"),
		bad("bare LF empty line", get, "\n", 400, "bare_lf"),
		bad("bare CR empty line", get, "\rGET", 400, "bare_cr"),
		// A smuggled PROXY protocol header is an invalid request line.
		bad("PROXY line", "", "PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\n"+get, 400, "version_invalid"),
		bad("PROXY v2 signature", "", "\r\n\r\n\x00\r\nQUIT\n", 400, "request_line_invalid"),
		bad("TLS handshake", "", "\x16\x03\x01\x00", 400, "request_line_invalid"),
		bad("two spaces", "", "GET  / HTTP/1.1\r\n", 400, "target_invalid"),
		bad("control byte in the target", "", "GET /\x01 HTTP/1.1\r\n", 400, "target_invalid"),
		bad("DEL in the target", "", "GET /\x7f HTTP/1.1\r\n", 400, "target_invalid"),
		bad("no version", "", "GET /\r\n", 400, "request_line_invalid"),
		bad("bad method byte", "", "GE(T / HTTP/1.1\r\n", 400, "method_invalid"),
		bad("lower-case version", "", "GET / http/1.1\r\n", 400, "version_invalid"),
		bad("space after the version", "", "GET / HTTP/1.1 \r\n", 400, "version_invalid"),
		bad("HTTP/1.2", "", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "version_unsupported"),
		bad("HTTP/2.0", "", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "version_unsupported"),
		bad("HTTP/3", "", "GET / HTTP/3\r\n", 400, "version_invalid"),
		// HTTP-05 a 100 KiB request-target.
		bad("HTTP-05 100 KiB target", get, "GET /"+strings.Repeat("a", 100<<10)+" HTTP/1.1\r\n", 414, "target_too_long"),
		good("target of exactly MaxTarget", "GET /"+strings.Repeat("a", DefaultMaxTarget-1)+" HTTP/1.1\r\nHost: a\r\n\r\n"),
		good("asterisk and absolute forms", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nGET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n"),
		// HTTP-11 `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, with and without AllowH2C.
		{name: "HTTP-11 h2 preface refused", in: preface + settings, status: 400, reason: "h2_preface"},
		{name: "HTTP-11 h2 preface with AllowH2C", lim: h2c, in: preface + settings + "\r\n\n\x00", deliver: preface + settings + "\r\n\n\x00"},
		{name: "h2 preface after a request", lim: h2c, in: get + preface, deliver: get, status: 400, reason: "h2_preface"},
		{name: "h2 preface after an empty line", lim: h2c, in: "\r\n" + preface, status: 400, reason: "h2_preface"},
		{name: "h2 preface cut short", lim: h2c, in: "PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n", status: 0, reason: "h2_preface_invalid"},
		{name: "h2 preface unfinished at EOF", lim: h2c, in: "PRI * HTTP/2.0\r\n\r\nS"},
		// "*" is OPTIONS' target only (RFC 9112 3.2.4).
		{name: "PRI as an HTTP/1.1 method", lim: h2c, in: "PRI * HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, reason: "target_invalid"},
		{name: "OPTIONS *", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", deliver: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "a target of no form", in: "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, reason: "target_invalid"},
		{name: "absolute-form", in: "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n", deliver: "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "an IPv6 authority left open", in: "GET http://[::1/x HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, reason: "target_invalid"},
		{name: "unfinished head at EOF", in: get + "GET / HTTP/1.1\r\nHost: a\r\n", deliver: get},
	}
}

// TestRefusalLine checks what a refusal reports of the request line.
func TestRefusalLine(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		name, in              string
		method, target, proto string
	}{
		{"PROXY line", "PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\n", "PROXY", "TCP4", ""},
		{"bad field", "GET /x?y HTTP/1.1\r\nX A: b\r\n\r\n", "GET", "/x?y", "HTTP/1.1"},
		{"long target", "GET /" + long + " HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "GET", ("/" + long)[:256], "HTTP/1.1"},
		{"long method", long + " / HTTP/1.1\r\nX A: b\r\n\r\n", long[:256], "/", "HTTP/1.1"},
		{"in a chunked body", chunked + "5\nhello", "POST", "/", "HTTP/1.1"},
		{"nothing parsed", "\x16\x03\x01", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.in, Limits{}, 0, 4096).refusal(t)
			if r == nil {
				t.Fatalf("no refusal")
			}
			if r.Method != tc.method || r.Target != tc.target || r.Proto != tc.proto {
				t.Errorf("refusal line = %q %q %q, want %q %q %q", r.Method, r.Target, r.Proto, tc.method, tc.target, tc.proto)
			}
		})
	}
}
