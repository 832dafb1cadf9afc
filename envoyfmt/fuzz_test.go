package envoyfmt

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse parses arbitrary format strings, seeded with the access log
// and header value formats gatehouse's tests use. A format is either
// refused with a non-empty error or parsed into segments that write back
// (String) as a format that parses to the same segments.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "%PROTOCOL%\n", "100%% %AUTHZ_POLICY%",
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
		`{"code":"%RESPONSE_CODE%","path":"%REQ(:PATH)%"}`,
		`{"a":{"b":["%PROTOCOL%",1,true,null]},"t":"%START_TIME(%s)%","m":"x %REQ(:METHOD):3% y"}`,
		`{"p":"%DOWNSTREAM_REMOTE_PORT%","d":"%DURATION%","g":"%GRPC_STATUS(NUMBER)%"}`,
		`{"t":"%START_TIME(%Y\"%m)%"}`, `{"a":"%BAD"}`,
		"u=%REQ(x-user)%", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "h=%REQ(Host)%", "%REQ(x-missing?x-alt):2%",
		"start=%START_TIME% proto=%PROTOCOL% up=%UPSTREAM_HOST%", "50%", "%NOPE%", "%START_TIME(x)%",
		"%REQ:5(x)%", "%REQ(x)junk%", "%REQ(x?)%", "%HOSTNAME:+3%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, format string) {
		segs, err := Parse(format)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("Parse(%q): empty error", format)
			}
			return
		}
		var b strings.Builder
		for _, s := range segs {
			b.WriteString(s.String())
		}
		again, err := Parse(b.String())
		if err != nil {
			t.Fatalf("Parse(%q) wrote back %q, which does not parse: %v", format, b.String(), err)
		}
		if !reflect.DeepEqual(normal(segs), normal(again)) {
			t.Fatalf("Parse(%q) = %+v; written back as %q it parses to %+v", format, segs, b.String(), again)
		}
	})
}

// normal drops what String does not keep: the argument text of header
// commands, which String writes from Header and Alt.
func normal(segs []Segment) []Segment {
	out := make([]Segment, 0, len(segs))
	for _, s := range segs {
		if isHeaderCommand(s.Op) {
			s.Arg = ""
		}
		out = append(out, s)
	}
	return out
}
