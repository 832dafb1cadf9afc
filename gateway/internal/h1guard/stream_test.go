package h1guard

import (
	"fmt"
	"strings"
	"testing"
)

// Building blocks of the request streams.
const (
	get     = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
)

// streamCase is a client byte stream and what the engine must get from it.
type streamCase struct {
	name    string
	in      string // what the client sends, then it closes
	lim     Limits
	deliver string // what the engine reads
	status  int    // the refusal's status, 0 for none
	reason  string
	inBody  bool
	// before is what the engine reads when a body violation is found
	// before its head was delivered (the request is then refused whole):
	// the requests ahead of the refused one.
	before string
}

// withTE returns a POST head carrying the given Transfer-Encoding line(s)
// and an empty chunked body, then a GET.
func withTE(lines string) string {
	return "POST / HTTP/1.1\r\nHost: a\r\n" + lines + "\r\n0\r\n\r\n" + get
}

// withCL returns a POST head carrying the given Content-Length line(s).
func withCL(lines, body string) string {
	return "POST / HTTP/1.1\r\nHost: a\r\n" + lines + "\r\n" + body
}

// TestStreams feeds each stream whole, byte by byte and 3 bytes at a time,
// and reads it with 4096-byte and 7-byte reads: the result must not depend
// on how the bytes arrive or are read, except for a violation in a chunked
// body, which refuses the request whole when found before its head was
// delivered, as it always is for a stream fed whole and read 4096 bytes
// at a time.
func TestStreams(t *testing.T) {
	for _, tc := range streamCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, step := range []int{0, 1, 3} {
				for _, size := range []int{4096, 7} {
					checkStream(t, tc, step, size)
				}
			}
		})
	}
}

func checkStream(t *testing.T, tc streamCase, step, size int) {
	t.Helper()
	res := run(t, tc.in, tc.lim, step, size)
	r := res.refusal(t)
	if r != nil && r.HeadHeld {
		checkHeldStream(t, tc, step, size, res, r)
		return
	}
	if res.delivered != tc.deliver {
		t.Errorf("step %d, reads of %d: delivered %s, want %s", step, size, short(res.delivered), short(tc.deliver))
	}
	if tc.inBody && step == 0 && size == 4096 && len(tc.in) <= 4096 {
		t.Errorf("step %d, reads of %d: the violation came in the read that brought its head, but the head was delivered", step, size)
	}
	switch {
	case r == nil && tc.status != 0:
		t.Errorf("step %d, reads of %d: no refusal, want %d %s", step, size, tc.status, tc.reason)
	case r != nil && (r.Status != tc.status || r.Reason != tc.reason || r.InBody != tc.inBody):
		t.Errorf("step %d, reads of %d: refusal %d %s (in body %v), want %d %s (in body %v)",
			step, size, r.Status, r.Reason, r.InBody, tc.status, tc.reason, tc.inBody)
	}
	want := ""
	if tc.status != 0 && !tc.inBody {
		want = string(responses[tc.status])
	}
	if res.written != want {
		t.Errorf("step %d, reads of %d: wrote %q, want %q", step, size, res.written, want)
	}
	res.checkErr(t, r)
}

// checkHeldStream checks a stream whose body violation refused its request
// whole: the requests before it delivered, the refusal written, io.EOF.
func checkHeldStream(t *testing.T, tc streamCase, step, size int, res result, r *Refusal) {
	t.Helper()
	if !tc.inBody {
		t.Errorf("step %d, reads of %d: refusal %+v held the head of a request refused outside a body", step, size, r)
	}
	if res.delivered != tc.before {
		t.Errorf("step %d, reads of %d: delivered %s, want %s", step, size, short(res.delivered), short(tc.before))
	}
	if r.Status != tc.status || r.Reason != tc.reason || !r.InBody {
		t.Errorf("step %d, reads of %d: refusal %d %s, want %d %s in the body", step, size, r.Status, r.Reason, tc.status, tc.reason)
	}
	if want := string(responses[tc.status]); res.written != want {
		t.Errorf("step %d, reads of %d: wrote %q, want %q", step, size, res.written, want)
	}
	res.checkErr(t, r)
}

func streamCases() []streamCase {
	var cs []streamCase
	cs = append(cs, smugglingCases()...)
	cs = append(cs, chunkedCases()...)
	cs = append(cs, fieldCases()...)
	cs = append(cs, requestLineCases()...)
	return cs
}

// smugglingCases are security.md HTTP-01 and HTTP-03: framing conflicts.
func smugglingCases() []streamCase {
	const clte = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"
	return []streamCase{
		// HTTP-01: `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`
		{name: "HTTP-01 CL+TE", in: clte, status: 400, reason: "content_length_and_transfer_encoding"},
		{name: "HTTP-01 CL+TE after a GET, then a GET", in: get + clte + get, deliver: get, status: 400, reason: "content_length_and_transfer_encoding"},
		{name: "HTTP-01 TE then CL", in: withTE("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"), status: 400, reason: "content_length_and_transfer_encoding"},
		// HTTP-01 TE values `chunked, identity`, `xchunked`, `Chunked`, `chunked\t`.
		{name: "HTTP-01 TE chunked, identity", in: withTE("Transfer-Encoding: chunked, identity\r\n"), status: 501, reason: "transfer_encoding_unsupported"},
		{name: "HTTP-01 TE xchunked", in: withTE("Transfer-Encoding: xchunked\r\n"), status: 501, reason: "transfer_encoding_unsupported"},
		{name: "HTTP-01 TE Chunked", in: withTE("Transfer-Encoding: Chunked\r\n"), deliver: withTE("Transfer-Encoding: Chunked\r\n")},
		{name: "HTTP-01 TE chunked HTAB is OWS", in: withTE("Transfer-Encoding: chunked\t\r\n"), deliver: withTE("Transfer-Encoding: chunked\t\r\n")},
		{name: "TE gzip, chunked", in: withTE("Transfer-Encoding: gzip, chunked\r\n"), status: 501, reason: "transfer_encoding_unsupported"},
		{name: "TE identity", in: withTE("Transfer-Encoding: identity\r\n"), status: 501, reason: "transfer_encoding_unsupported"},
		{name: "TE tab inside the token", in: withTE("Transfer-Encoding: chun\tked\r\n"), status: 400, reason: "transfer_encoding_invalid"},
		{name: "TE with a parameter", in: withTE("Transfer-Encoding: chunked;q=1\r\n"), status: 400, reason: "transfer_encoding_invalid"},
		{name: "TE empty", in: withTE("Transfer-Encoding:\r\n"), status: 400, reason: "transfer_encoding_invalid"},
		{name: "TE empty list element", in: withTE("Transfer-Encoding: gzip,,chunked\r\n"), status: 400, reason: "transfer_encoding_invalid"},
		// HTTP-01 `Transfer-Encoding : chunked` (CVE-2019-16276).
		{name: "HTTP-01 space before colon", in: withTE("Transfer-Encoding : chunked\r\n"), status: 400, reason: "header_name_invalid"},
		// HTTP-01 two TE lines.
		{name: "HTTP-01 two TE lines", in: withTE("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), status: 400, reason: "transfer_encoding_repeated"},
		// HTTP-01 TE on HTTP/1.0.
		{name: "HTTP-01 TE on HTTP/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400, reason: "transfer_encoding_http10"},
		// HTTP-03 `Content-Length: 5` plus `Content-Length: 6`.
		{name: "HTTP-03 CL 5 and 6", in: withCL("Content-Length: 5\r\nContent-Length: 6\r\n", "hello"), status: 400, reason: "content_length_mismatch"},
		{name: "HTTP-03 two identical CL", in: withCL("Content-Length: 5\r\nContent-Length: 5\r\n", "hello") + get, deliver: withCL("Content-Length: 5\r\nContent-Length: 5\r\n", "hello") + get},
		// A list of identical values is refused, as net/http refuses it.
		{name: "HTTP-03 CL 5, 5", in: withCL("Content-Length: 5, 5\r\n", "hello"), status: 400, reason: "content_length_invalid"},
		{name: "CL 5, 6", in: withCL("Content-Length: 5, 6\r\n", "hello"), status: 400, reason: "content_length_invalid"},
		{name: "HTTP-03 CL +5", in: withCL("Content-Length: +5\r\n", "hello"), status: 400, reason: "content_length_invalid"},
		{name: "HTTP-03 CL -1", in: withCL("Content-Length: -1\r\n", ""), status: 400, reason: "content_length_invalid"},
		{name: "HTTP-03 CL 05", in: withCL("Content-Length: 05\r\n", "hello"), status: 400, reason: "content_length_invalid"},
		{name: "HTTP-03 CL 20 digits", in: withCL("Content-Length: 10000000000000000000\r\n", ""), status: 400, reason: "content_length_invalid"},
		{name: "CL 18 digits", in: withCL("Content-Length: 100000000000000000\r\n", "abc"), deliver: withCL("Content-Length: 100000000000000000\r\n", "abc")},
		{name: "CL empty", in: withCL("Content-Length: \r\n", ""), status: 400, reason: "content_length_invalid"},
		{name: "CL space inside", in: withCL("Content-Length: 1 2\r\n", ""), status: 400, reason: "content_length_invalid"},
		{name: "CL 0 then a GET", in: withCL("Content-Length: 0\r\n", "") + get, deliver: withCL("Content-Length: 0\r\n", "") + get},
		{name: "HTTP-03 a body on a GET", in: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + get, deliver: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + get},
		{name: "CL body is not scanned", in: withCL("Content-Length: 10\r\n", "\x00\n\r GET /\n") + get, deliver: withCL("Content-Length: 10\r\n", "\x00\n\r GET /\n") + get},
		{name: "CL body cut by EOF", in: withCL("Content-Length: 10\r\n", "abc"), deliver: withCL("Content-Length: 10\r\n", "abc")},
	}
}

// chunkedCases are security.md HTTP-02: chunked bodies, refused in the body
// after the head was delivered.
func chunkedCases() []streamCase {
	const inner = "\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n"
	ext := "1" + strings.Repeat(";a=b", 1<<18) + "\r\nX\r\n0\r\n\r\n"
	body := func(name, in, deliver, reason string) streamCase {
		return streamCase{name: name, in: chunked + in, deliver: chunked + deliver, status: 400, reason: reason, inBody: true}
	}
	ok := func(name, in string) streamCase {
		return streamCase{name: name, in: chunked + in + get, deliver: chunked + in + get}
	}
	return []streamCase{
		// HTTP-02 `5\nhello\r\n0\r\n\r\n` (CVE-2025-22871).
		body("HTTP-02 bare LF after the size", "5\nhello\r\n0\r\n\r\n", "5", "bare_lf"),
		// HTTP-02 `0\n\r\n`.
		body("HTTP-02 bare LF after the last chunk", "0\n\r\n", "0", "bare_lf"),
		// HTTP-02 `1;a=b\nX\r\n0\r\n\r\n` (CVE-2025-55315).
		body("HTTP-02 bare LF after an extension", "1;a=b\nX\r\n0\r\n\r\n", "1;a=b", "bare_lf"),
		// HTTP-02 sizes `0x5`, `+5`, ` 5`, `ffffffffffffffffff`.
		body("HTTP-02 size 0x5", "0x5\r\nhello\r\n0\r\n\r\n", "0", "invalid_chunk"),
		body("HTTP-02 size +5", "+5\r\nhello\r\n0\r\n\r\n", "", "invalid_chunk"),
		body("HTTP-02 size space 5", " 5\r\nhello\r\n0\r\n\r\n", "", "invalid_chunk"),
		body("HTTP-02 size 18 f", "ffffffffffffffffff\r\n", "fffffffffffffff", "invalid_chunk"),
		body("size 17 digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", "0000000000000000", "invalid_chunk"),
		// HTTP-02 1 MiB of `;a=b` extensions (CVE-2023-39326).
		body("HTTP-02 1 MiB of extensions", ext, ext[:DefaultMaxChunkLine], "chunk_line_too_long"),
		// HTTP-02 trailers carrying `Content-Length`.
		body("HTTP-02 trailer Content-Length", "0\r\nContent-Length: 5\r\n\r\n", "0\r\nContent-Length", "trailer_framing_field"),
		body("trailer Transfer-Encoding", "0\r\ntransfer-encoding: chunked\r\n\r\n", "0\r\ntransfer-encoding", "trailer_framing_field"),
		body("trailer obs-fold", "0\r\nX-T: a\r\n b\r\n\r\n", "0\r\nX-T: a\r\n", "obs_fold"),
		body("trailer NUL", "0\r\nX-T: a\x00\r\n\r\n", "0\r\nX-T: a", "header_value_invalid"),
		body("trailer bare LF", "0\r\nX-T: a\n\r\n", "0\r\nX-T: a", "bare_lf"),
		body("data longer than its size", "5\r\nhelloX\r\n0\r\n\r\n", "5\r\nhello", "invalid_chunk"),
		body("data then bare LF", "5\r\nhello\n0\r\n\r\n", "5\r\nhello", "bare_lf"),
		body("space before CRLF", "5 \r\nhello\r\n0\r\n\r\n", "5", "invalid_chunk"),
		body("whitespace around an extension", "5 ; a = b\r\nhello\r\n0\r\n\r\n", "5", "invalid_chunk"),
		body("whitespace after an extension", "5;a=b \r\nhello\r\n0\r\n\r\n", "5;a=b", "invalid_chunk"),
		body("empty extension name", "5;\r\nhello\r\n0\r\n\r\n", "5;", "invalid_chunk"),
		body("empty extension value", "5;a=\r\nhello\r\n0\r\n\r\n", "5;a=", "invalid_chunk"),
		body("unterminated quoted value", "5;a=\"b\r\nhello\r\n0\r\n\r\n", "5;a=\"b", "invalid_chunk"),
		body("CR without LF after the size", "5\rhello\r\n0\r\n\r\n", "5\r", "invalid_chunk"),
		ok("chunks and trailers", "5;a=b;c=\"d \\\"e\"\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n"),
		ok("extensions without values", "5;a;b=c;d\r\nhello\r\n0;e\r\n\r\n"),
		ok("leading zeros in the size", "005\r\nhello\r\n000\r\n\r\n"),
		ok("data holding CRLF and a head", fmt.Sprintf("%X\r\n%s\r\n0\r\n\r\n", len(inner), inner)),
		{name: "chunked body cut by EOF", in: chunked + "5\r\nhel", deliver: chunked + "5\r\nhel"},
	}
}
