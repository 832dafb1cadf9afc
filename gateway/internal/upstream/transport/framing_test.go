package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestFramingCheck(t *testing.T) {
	cases := []struct {
		name, head string
		want       error
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", nil},
		{"both", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", errLengthAndChunked},
		{"both, lower case, bare LF", "HTTP/1.1 200 OK\ncontent-length: 5\ntransfer-encoding: chunked\n\n", errLengthAndChunked},
		{"both, empty values", "HTTP/1.1 200 OK\r\nContent-Length:\r\nTransfer-Encoding:\r\n\r\n", errLengthAndChunked},
		{"folded line is no field", "HTTP/1.1 200 OK\r\nX-A: 1\r\n Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", nil},
		{"longer name", "HTTP/1.1 200 OK\r\nContent-Length-X: 5\r\nTransfer-Encoding: chunked\r\n\r\n", nil},
		{"status line is no field", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", nil},
		{"HTTP/1.0 chunked", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", errChunkedHTTP10},
		{"HTTP/1.0 length", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", nil},
		{"204 chunked", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", errChunked204},
		{"space before the colon", "HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n", errSpacedFraming},
		{"space before the colon, length", "HTTP/1.1 200 OK\r\nContent-Length  : 5\r\nTransfer-Encoding: chunked\r\n\r\n", errSpacedFraming},
		{"space before the colon, other field", "HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 5\r\n\r\n", nil},
		{"304 chunked", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200}
			fmt.Sscanf(tc.head, "HTTP/%d.%d %d", &resp.ProtoMajor, &resp.ProtoMinor, &resp.StatusCode)
			head := []byte(tc.head)
			if err := checkFraming(head, resp); err != tc.want {
				t.Errorf("checkFraming = %v, want %v", err, tc.want)
			}
			if n := testing.AllocsPerRun(10, func() { checkFraming(head, resp) }); n != 0 {
				t.Errorf("%v allocations", n)
			}
		})
	}
}

func TestWriteHeadRefusesControlBytes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(o *Request)
		want *RequestError // nil: written
	}{
		{"plain", func(o *Request) {}, nil},
		{"tab and obs-text in a value", func(o *Request) { o.Fields.Set("X-A", "a\tb \xe9") }, nil},
		{"CR LF in a value", func(o *Request) { o.Fields.Set("X-A", "a\r\nX-B: 1") }, &RequestError{Part: "header value", Name: "X-A"}},
		{"LF in a value", func(o *Request) { o.Fields.Set("X-A", "a\nb") }, &RequestError{Part: "header value", Name: "X-A"}},
		{"CR in a value", func(o *Request) { o.Fields.Set("X-A", "a\rb") }, &RequestError{Part: "header value", Name: "X-A"}},
		{"NUL in a value", func(o *Request) { o.Fields.Set("X-A", "a\x00b") }, &RequestError{Part: "header value", Name: "X-A"}},
		{"DEL in a value", func(o *Request) { o.Fields.Set("X-A", "a\x7fb") }, &RequestError{Part: "header value", Name: "X-A"}},
		{"second value", func(o *Request) { o.Fields["X-A"] = []string{"ok", "\r\n"} }, &RequestError{Part: "header value", Name: "X-A"}},
		{"CR LF in a name", func(o *Request) { o.Fields["X-A\r\nX-B"] = []string{"1"} }, &RequestError{Part: "header name"}},
		{"space in a name", func(o *Request) { o.Fields["X A"] = []string{"1"} }, &RequestError{Part: "header name"}},
		{"colon in a name", func(o *Request) { o.Fields["X-A:"] = []string{"1"} }, &RequestError{Part: "header name"}},
		{"empty name", func(o *Request) { o.Fields[""] = []string{"1"} }, &RequestError{Part: "header name"}},
		{"gateway's own field", func(o *Request) { o.Add("X-Envoy-Attempt-Count", "1\r\n") }, &RequestError{Part: "header value", Name: "X-Envoy-Attempt-Count"}},
		{"upgrade", func(o *Request) { o.Upgrade = "websocket\r\nX-B: 1" }, &RequestError{Part: "header value", Name: "Upgrade"}},
		{"CR LF in the path", func(o *Request) { o.Path = "/a HTTP/1.1\r\nHost: b\r\n\r\nGET /b" }, &RequestError{Part: "path"}},
		{"space in the path", func(o *Request) { o.Path = "/a b" }, &RequestError{Part: "path"}},
		{"NUL in the query", func(o *Request) { o.RawQuery = "a=\x00" }, &RequestError{Part: "query"}},
		{"LF in the query", func(o *Request) { o.RawQuery = "a=\n" }, &RequestError{Part: "query"}},
		{"CR LF in the host", func(o *Request) { o.Host = "a\r\nX-B: 1" }, &RequestError{Part: "host"}},
		{"space in the method", func(o *Request) { o.Method = "GET /x" }, &RequestError{Part: "method"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://a.example/p?q=1", nil)
			req.Header.Set("Accept", "*/*")
			o := newTestRequest(req)
			o.Path = "/p"
			tc.edit(o)
			head, err := o.AppendHead(make([]byte, 0, 512))
			_, stdErr := o.Header()
			for engine, err := range map[string]error{"HTTP/1.1 writer": err, "net/http engines": stdErr} {
				var re *RequestError
				switch {
				case tc.want == nil && err != nil:
					t.Errorf("%s: %v", engine, err)
				case tc.want != nil && (!errors.As(err, &re) || *re != *tc.want):
					t.Errorf("%s: error %v, want %v", engine, err, tc.want)
				}
			}
			if tc.want != nil {
				return
			}
			parsed, perr := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
			if perr != nil || parsed.Host != o.Host || parsed.RequestURI != "/p?q=1" {
				t.Errorf("wrote %q: %v", head, perr)
			}
		})
	}
}

// The common case allocates nothing beyond the buffer it writes into.
func TestWriteHeadAllocations(t *testing.T) {
	req, _ := http.NewRequest("GET", "http://a.example/p?q=1", nil)
	req.Header.Set("Accept", "*/*")
	req.Header.Set("User-Agent", "test/1")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	o := newTestRequest(req)
	o.Path = "/p"
	o.Add("X-Envoy-Attempt-Count", "1")
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { o.AppendHead(buf) }); n != 0 {
		t.Errorf("%v allocations per head", n)
	}
}

// net/http's own refusals to send a request are answered as the gateway's,
// and only those: its HTTP/2 client reports a bad response field in words
// that look alike.
func TestWriteRefusalsOfNetHTTP(t *testing.T) {
	t.Parallel()
	cases := []struct {
		msg     string
		refusal bool
	}{
		{`net/http: invalid header field value for "X-A"`, true},
		{`net/http: invalid header field name "X A"`, true},
		{"net/http: can't write control character in Request.URL", true},
		{"http2: invalid Host header", true},
		{`http2: invalid HTTP header value for header "X-A"`, true},
		{`http2: invalid request :path "/\n"`, true},
		{`stream error: stream ID 1; PROTOCOL_ERROR; invalid header field value for "x-a"`, false},
		{"malformed MIME header line: X-A", false},
	}
	for _, tc := range cases {
		err := classifyStd(t.Context(), errors.New(tc.msg))
		if got := errors.As(err, new(*RequestError)); got != tc.refusal {
			t.Errorf("%q: classified %T, want a refusal %v", tc.msg, err, tc.refusal)
		}
	}
}
