package accesslog

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func render(t *testing.T, encoding, format string, e *Entry) string {
	t.Helper()
	f, err := NewFormat(encoding, format)
	if err != nil {
		t.Fatalf("compile %q: %v", format, err)
	}
	return string(f.Append(nil, e))
}

func TestAccessLogCustomText(t *testing.T) {
	e := proxied()
	e.Policy, e.GRPCStatus = "shop/deny-bots", "5"
	e.RequestDuration, e.ResponseDuration = 2500*time.Microsecond, 9*time.Millisecond
	e.ReqHeader = http.Header{"X-Tenant": {"acme", "second"}, "X-Empty": {""}, "User-Agent": {"ignored: field wins"}}
	e.RespHeader = http.Header{"Content-Type": {"text/html"}}
	v6 := proxied()
	v6.DownstreamRemote, v6.UpstreamHost = "[2001:db8::1]:443", "10.1.2.3"
	noFields := &Entry{UpstreamServiceTime: -1,
		ReqHeader:  http.Header{"X-Forwarded-For": {"203.0.113.7"}, "X-Request-Id": {"from-header"}},
		RespHeader: http.Header{"X-Envoy-Upstream-Service-Time": {"7"}, "Grpc-Status": {"14"}}}

	for _, c := range []struct {
		name, format string
		e            *Entry
		want         string
	}{
		{"headers", `%REQ(x-tenant)% %REQ(X-MISSING?X-TENANT)% %REQ(X-MISSING)% %REQ(X-EMPTY)% %RESP(content-type)% %RESP(:STATUS)%`, e,
			`acme acme - - text/html 200`},
		{"truncation", `%REQ(USER-AGENT):4% %REQ(:PATH):5% %REQ(X-NOPE?X-TENANT):2% %START_TIME:4%`, e, `curl /inde ac 2026`},
		{"without query", `%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)% %REQ_WITHOUT_QUERY(:METHOD)%`, e, `/index.html GET`},
		{"start time formats", `%START_TIME(%Y/%m/%d %H:%M:%S%z)%|%START_TIME(%s.%3f)%|%START_TIME(%6f %9f %f %1f)%`, e,
			`2026/11/25 13:40:00+0000|1795614000.123|123456 123456789 123456789 1`},
		{"start time more", `%START_TIME(%F %T %Z)%|%START_TIME(%E3S %E6S)%|%START_TIME(%a %A %b %B %e %I%p %j %y %D %R %Ez %%)%`, e,
			`2026-11-25 13:40:00 UTC|00.123 00.123456|Wed Wednesday Nov November 25 01PM 329 26 11/25/26 13:40 +00:00 %`},
		{"grpc", `%GRPC_STATUS% %GRPC_STATUS(SNAKE_STRING)% %GRPC_STATUS(NUMBER)% %RESP(GRPC-STATUS)%`, e, `NotFound NOT_FOUND 5 5`},
		{"addresses v4", `%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_REMOTE_PORT% %DOWNSTREAM_LOCAL_PORT% %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %UPSTREAM_LOCAL_PORT%`, e,
			`192.0.2.10 51234 8443 10.1.2.3 40112`},
		{"addresses v6", `%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_REMOTE_PORT% %UPSTREAM_HOST% %UPSTREAM_REMOTE_PORT%`, v6,
			`2001:db8::1 443 10.1.2.3 -`},
		{"gatehouse and misc", `100%% %AUTHZ_POLICY% %UPSTREAM_CLUSTER% %REQUEST_DURATION% %RESPONSE_DURATION% %REQ(:SCHEME)%`, e,
			`100% shop/deny-bots outbound|8080||web.shop.svc.cluster.local 2 9 -`},
		{"absent extras", `%AUTHZ_POLICY% %REQUEST_DURATION% %GRPC_STATUS% %START_TIME(%s)%`, &Entry{}, `- - - -`},
		{"header fallback", `%REQ(X-FORWARDED-FOR)% %REQ(X-REQUEST-ID)% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% %GRPC_STATUS%`, noFields,
			`203.0.113.7 from-header 7 Unavailable`},
		{"no trailing newline added twice", "%PROTOCOL%\n", e, `HTTP/1.1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := render(t, "TEXT", c.format, c.e); got != c.want+"\n" {
				t.Errorf("format %s\n got %q\nwant %q", c.format, got, c.want+"\n")
			}
		})
	}
}

func TestAccessLogCustomJSON(t *testing.T) {
	e := proxied()
	e.GRPCStatus = "5"
	format := `{
		"ts": "%START_TIME(%s)%", "code": "%RESPONSE_CODE%", "line": "%REQ(:METHOD)% %REQ(:PATH)% %REQ(X-NOPE)%",
		"missing": "%REQ(X-NOPE)%", "nested": {"ua": "%REQ(USER-AGENT)%", "n": 3, "ok": true, "z": null},
		"list": ["%PROTOCOL%", "const", 1.5], "grpc": "%GRPC_STATUS(NUMBER)%", "pct": "50%%",
		"upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", "port": "%DOWNSTREAM_REMOTE_PORT%",
		"quote\"key": "x\"y", "policy": "%AUTHZ_POLICY%"
	}`
	want := `{"code":200,"grpc":5,"line":"GET /index.html?q=1 -","list":["HTTP/1.1","const",1.5],"missing":null,` +
		`"nested":{"n":3,"ok":true,"ua":"curl/8.5.0","z":null},"pct":"50%","policy":null,"port":51234,` +
		`"quote\"key":"x\"y","ts":"1795614000","upstream_service_time":"11"}` + "\n"
	if got := render(t, "JSON", format, e); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

// Regression (found by FuzzAccessLogFormat): a quote, backslash or tab in
// a START_TIME format reached a JSON line unescaped, and the line was no
// longer JSON. It is escaped after the :N truncation, as Envoy does.
func TestAccessLogJSONStartTimeLiteral(t *testing.T) {
	e := proxied()
	format := `{"a": "%START_TIME(%Y\"\\%m\t)%", "b": "at %START_TIME(%Y\"%m)%", "c": "%START_TIME(%Y\"%m):5%"}`
	want := `{"a":"2026\"\\11\t","b":"at 2026\"11","c":"2026\""}` + "\n"
	if got := render(t, "JSON", format, e); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestAccessLogFormatErrors(t *testing.T) {
	for _, c := range []struct{ encoding, format, want string }{
		{"TEXT", `%FOO%`, "unknown or unsupported operator %FOO%"},
		{"TEXT", `[%START_TIME%] %DOWNSTREAM_PEER_URI_SAN%`, "unknown or unsupported operator %DOWNSTREAM_PEER_URI_SAN%"},
		{"TEXT", `%REQ%`, "%REQ% needs a header name"},
		{"TEXT", `%REQ()%`, "%REQ% needs a header name"},
		{"TEXT", `%REQ(A?B?C)%`, "more than one alternative header"},
		{"TEXT", `%REQ(bad header)%`, "invalid header name"},
		{"TEXT", `%REQ(X-A`, "no closing"},
		{"TEXT", `%PROTOCOL`, "not terminated by %"},
		{"TEXT", `50% off`, "invalid operator at offset 2"},
		{"TEXT", `%PROTOCOL(x)%`, "takes no argument"},
		{"TEXT", `%REQ(X):abc%`, "no closing"},
		{"TEXT", `%REQ(X):0%`, "positive integer"},
		{"TEXT", `%START_TIME(%Q)%`, "unsupported specifier %Q"},
		{"TEXT", `%START_TIME(%n)%`, "unsupported specifier %n"},
		{"TEXT", `%GRPC_STATUS(LOUD)%`, "want CAMEL_STRING"},
		{"JSON", `{"a": "%NOPE%"}`, `(JSON key "a")`},
		{"JSON", `[%START_TIME%] %PROTOCOL%`, "must be a JSON object"},
		{"JSON", `{"a": "%PROTOCOL%"} trailing`, "unexpected data after"},
		{"JSON", `null`, "must be a JSON object"},
		{"XML", ``, `accessLogEncoding "XML"`},
	} {
		_, err := NewFormat(c.encoding, c.format)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: err = %v, want it to contain %q", c.encoding, c.format, err, c.want)
		}
	}
	// The constructor reports it and opens nothing.
	path := t.TempDir() + "/never.log"
	if l, err := Open(path, "TEXT", "%BOGUS%"); err == nil || l != nil {
		t.Fatalf("Open with a bad format = %v, %v", l, err)
	}
	if _, err := Open(path, "JSON", "{"); err == nil {
		t.Fatal("Open with bad JSON: no error")
	}
}

// evil are attacker-shaped values: each must stay inside its field.
var evil = []string{
	"/x\r\n[2026-01-01T00:00:00.000Z] \"GET /admin HTTP/1.1\" 200 - via_upstream",
	"a\"b\" \"c", `back\slash\"`, "nul\x00byte", "bad\xff\xfe\xc0utf8", "tab\tand\vvt",
	"ls\u2028ps\u2029nel\u0085", "\x1b[31mred\x1b[0m", "del\x7f", "sp ace", "-", "é日本",
}

func TestAccessLogInjectionText(t *testing.T) {
	f, _ := NewFormat("TEXT", "")
	fields := map[string]struct {
		group int
		set   func(*Entry, string)
	}{
		"path":      {3, func(e *Entry, v string) { e.Path = v }},
		"details":   {7, func(e *Entry, v string) { e.Details = v }},
		"transport": {9, func(e *Entry, v string) { e.TransportFailure = v }},
		"xff":       {14, func(e *Entry, v string) { e.XFF = v }},
		"ua":        {15, func(e *Entry, v string) { e.UserAgent = v }},
		"requestid": {16, func(e *Entry, v string) { e.RequestID = v }},
		"authority": {17, func(e *Entry, v string) { e.Authority = v }},
		"sni":       {23, func(e *Entry, v string) { e.SNI = v }},
	}
	for name, fl := range fields {
		for _, v := range evil {
			e := proxied()
			fl.set(e, v)
			line := string(f.Append(nil, e))
			checkOneLine(t, line)
			m := istioTextRE.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s=%q: line no longer parses: %s", name, v, line)
				continue
			}
			if got := unescape(t, m[fl.group]); got != wantRead(v) {
				t.Errorf("%s=%q: field round-trips to %q", name, v, got)
			}
			if m[2] != "GET" || m[24] != "web" || m[5] != "200" {
				t.Errorf("%s=%q: neighbouring fields moved: %q", name, v, m[1:])
			}
		}
	}
}

func TestAccessLogInjectionJSON(t *testing.T) {
	f, _ := NewFormat("JSON", `{"path":"%REQ(:PATH)%","ua":"%REQ(USER-AGENT)%","h":"%REQ(X-Evil)%","both":"%REQ(X-Evil)%|%REQ(:PATH)%"}`)
	def, _ := NewFormat("JSON", "")
	for _, v := range evil {
		e := proxied()
		e.Path, e.UserAgent, e.ReqHeader = v, v, http.Header{"X-Evil": {v}}
		for _, line := range []string{string(f.Append(nil, e)), string(def.Append(nil, e))} {
			checkOneLine(t, line)
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%q: invalid JSON %v: %s", v, err, line)
			}
			for _, k := range []string{"path", "ua", "h", "user_agent"} {
				if got, ok := m[k]; ok && got != wantRead(v) {
					t.Errorf("%q: %s round-trips to %q", v, k, got)
				}
			}
			if got, ok := m["both"]; ok && got != wantRead(v)+"|"+wantRead(v) {
				t.Errorf("%q: template round-trips to %q", v, got)
			}
		}
	}
	// Oversized values are cut to 16 KiB before escaping.
	e := proxied()
	e.UserAgent = strings.Repeat("\"", 100<<10)
	if n := len(def.Append(nil, e)); n > 2*maxField+2048 {
		t.Errorf("line with a 100 KiB header is %d bytes", n)
	}
}

// checkOneLine: exactly one line, no raw control byte anywhere.
func checkOneLine(t *testing.T, line string) {
	t.Helper()
	if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Errorf("not exactly one line: %q", line)
	}
	for i := 0; i < len(line)-1; i++ {
		if line[i] < 0x20 || line[i] == 0x7f {
			t.Errorf("raw control byte %#x at %d: %q", line[i], i, line)
			return
		}
	}
	if strings.ContainsAny(line, "\u2028\u2029\u0085") {
		t.Errorf("raw Unicode line separator: %q", line)
	}
}

// unescape decodes a TEXT field: the escapes are JSON's.
func unescape(t *testing.T, s string) string {
	t.Helper()
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		t.Fatalf("field %q is not JSON-unescapable: %v", s, err)
	}
	return out
}

// wantRead: what a value reads back as: each invalid UTF-8 byte is U+FFFD.
func wantRead(v string) string { return string([]rune(v)) }

// The word-at-a-time scan must agree with the byte table exactly: every
// byte value at every position, and random words.
func TestAccessLogEscapeWordScan(t *testing.T) {
	for _, lt := range []uint64{0x20, 0x21} {
		table := &safeASCII
		if lt == 0x21 {
			table = &safeASCIINoSpace
		}
		for c := 0; c < 256; c++ {
			for p := 0; p < 8; p++ {
				for _, fill := range []uint64{'a', '~', ' ' + lt - 0x20, '#', '['} {
					x := fill * 0x0101010101010101
					x = x&^(0xff<<(8*p)) | uint64(c)<<(8*p)
					if got := safeWord(x, lt); got != table[c] {
						t.Fatalf("lt=%#x byte %#x at %d fill %q: safe=%v, table says %v", lt, c, p, rune(fill), got, table[c])
					}
				}
			}
		}
		rng := uint64(1)
		for n := 0; n < 200000; n++ {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			x, want := rng, true
			for p := 0; p < 8; p++ {
				want = want && table[byte(x>>(8*p))]
			}
			if safeWord(x, lt) != want {
				t.Fatalf("lt=%#x word %#x: got %v want %v", lt, x, !want, want)
			}
		}
	}
}

// refEscape is the obvious rune-by-rune version of appendEscaped.
func refEscape(s string, escSpace bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0x2028 || r == 0x2029 || r == ' ' && escSpace:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func TestAccessLogEscapeMatchesReference(t *testing.T) {
	alphabet := []string{"a", "Z", " ", "\"", "\\", "\n", "\x00", "\x7f", "\x1f", "é", "日", "\u2028", "\u0085",
		"\xff", "\xc3", "\xe2\x80", "~", "%", "abcdefgh", "ABCDEFGHIJKLMNOP"}
	rng := uint32(7)
	next := func(n int) int { rng = rng*1664525 + 1013904223; return int(rng>>8) % n }
	for n := 0; n < 20000; n++ {
		var sb strings.Builder
		for k := next(40); k > 0; k-- {
			sb.WriteString(alphabet[next(len(alphabet))])
		}
		s := sb.String()
		for _, sp := range []bool{false, true} {
			if got, want := string(appendEscaped(nil, s, sp)), refEscape(s, sp); got != want {
				t.Fatalf("escape(%q, %v)\n got %q\nwant %q", s, sp, got, want)
			}
		}
	}
}
