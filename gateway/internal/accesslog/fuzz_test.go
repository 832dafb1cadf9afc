package accesslog

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// headerArgs finds the header names a format's %REQ(...)% and %RESP(...)%
// operators read, so that the fuzzed entry carries each of them.
var headerArgs = regexp.MustCompile(`%(?:REQ|RESP|REQ_WITHOUT_QUERY)\(([^)]*)\)`)

// fuzzEntry is an entry whose every string field, and every header the
// format reads, is v.
func fuzzEntry(format, v string) *Entry {
	e := proxied()
	e.Method, e.Path, e.Protocol, e.Flags, e.Details = v, v, v, v, v
	e.TerminationDetails, e.TransportFailure = v, v
	e.XFF, e.UserAgent, e.RequestID, e.Authority = v, v, v, v
	e.UpstreamHost, e.UpstreamCluster, e.UpstreamLocal = v, v, v
	e.DownstreamLocal, e.DownstreamRemote = v, v
	e.SNI, e.RouteName, e.Policy, e.GRPCStatus = v, v, v, v
	e.ReqHeader, e.RespHeader = http.Header{}, http.Header{}
	for _, m := range headerArgs.FindAllStringSubmatch(format, -1) {
		for name := range strings.SplitSeq(m[1], "?") {
			e.ReqHeader.Add(name, v)
			e.RespHeader.Add(name, v)
		}
	}
	return e
}

// rawQuotes counts the double quotes a backslash does not escape.
func rawQuotes(b []byte) int {
	n := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			n++
		}
	}
	return n
}

// controls counts the raw control characters in b.
func controls(b []byte) int {
	n := 0
	for _, c := range b {
		if c < ' ' || c == 0x7f {
			n++
		}
	}
	return n
}

// FuzzAccessLogFormat compiles arbitrary accessLogFormat strings, TEXT or
// JSON. A format is either refused with an error or renders entries,
// including one whose every value is the fuzzed v, without panicking, as
// one line ending in '\n'. Whatever the values, they never add a line
// break or control character, never leave their quotes (TEXT), never
// make a UTF-8 line invalid, and a JSON line is always a JSON object.
func FuzzAccessLogFormat(f *testing.F) {
	for _, s := range []string{
		"", defaultText, "%PROTOCOL%\n", "100%% %AUTHZ_POLICY%",
		`[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%`,
		`%REQ(x-tenant)% %REQ(X-MISSING?X-TENANT)% %RESP(content-type)% %RESP(:STATUS)%`,
		`%REQ(USER-AGENT):4% %REQ(:PATH):5% %REQ(X-NOPE?X-TENANT):2% %START_TIME:4%`,
		`%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)% %REQ_WITHOUT_QUERY(:METHOD)%`,
		`%START_TIME(%Y/%m/%d %H:%M:%S%z)%|%START_TIME(%s.%3f)%|%START_TIME(%6f %9f %f %1f)%`,
		`%START_TIME(%F %T %Z)%|%START_TIME(%E3S %E6S)%|%START_TIME(%a %A %b %B %e %I%p %j %y %D %R %Ez %%)%`,
		`%GRPC_STATUS% %GRPC_STATUS(SNAKE_STRING)% %GRPC_STATUS(NUMBER)% %RESP(GRPC-STATUS)%`,
		`%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_REMOTE_PORT% %UPSTREAM_LOCAL_PORT% %UPSTREAM_HOST%`,
		`%DURATION% %REQUEST_DURATION% %RESPONSE_DURATION% %BYTES_SENT% %RESPONSE_FLAGS% %ROUTE_NAME% %HOSTNAME%`,
		`%REQ(X-A)(B)%`, `%REQ(:PATH):0%`, `%BAD`, `%%%`, `%UNKNOWN%`, `%REQ()%`, `%REQ(A?B?C)%`, `%PROTOCOL(x)%`,
		`%START_TIME(%Q)%`, "%REQ(a\nb)%",
	} {
		f.Add(s, false, "curl/8.5.0")
	}
	for _, s := range []string{
		"", `{"code":"%RESPONSE_CODE%","path":"%REQ(:PATH)%"}`,
		`{"a":{"b":["%PROTOCOL%",1,true,null]},"t":"%START_TIME(%s)%","m":"x %REQ(:METHOD):3% y"}`,
		`{"p":"%DOWNSTREAM_REMOTE_PORT%","d":"%DURATION%","g":"%GRPC_STATUS(NUMBER)%"}`,
		`{"t":"%START_TIME(%Y\"%m)%"}`, `{"x":1.5e3}`, `[]`, `{"a":"%BAD"}`, `{} {}`,
	} {
		f.Add(s, true, "v\"a\\l\nu\te\x00\xff\u2028")
	}
	f.Fuzz(func(t *testing.T, format string, jsonEnc bool, v string) {
		enc := "TEXT"
		if jsonEnc {
			enc = "JSON"
		}
		af, err := NewFormat(enc, format)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%s %q: empty error", enc, format)
			}
			return
		}
		plain := af.Append(nil, fuzzEntry(format, "x"))
		for _, e := range []*Entry{{}, localEntry(404, "NR", "route_not_found", 0), proxied(), fuzzEntry(format, v)} {
			line := af.Append(nil, e)
			if !bytes.HasSuffix(line, []byte("\n")) {
				t.Fatalf("%s %q: line %q does not end in a newline", enc, format, line)
			}
			if jsonEnc {
				var obj map[string]any
				if err := json.Unmarshal(line, &obj); err != nil {
					t.Fatalf("%s %q: line %q is not a JSON object: %v", enc, format, line, err)
				}
			}
		}
		evil := af.Append(nil, fuzzEntry(format, v))
		if controls(evil) != controls(plain) {
			t.Errorf("%s %q: value %q added control characters: %q", enc, format, v, evil)
		}
		if !jsonEnc && !strings.Contains(format, `\`) && rawQuotes(evil) != rawQuotes(plain) {
			t.Errorf("%s %q: value %q left its quotes: %q", enc, format, v, evil)
		}
		if utf8.Valid(plain) && !utf8.Valid(evil) {
			t.Errorf("%s %q: value %q made the line invalid UTF-8: %q", enc, format, v, evil)
		}
	})
}
