package envoyfmt

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	lit := func(s string) Segment { return Segment{Lit: s} }
	tests := []struct {
		name, format string
		want         []Segment
	}{
		{"empty", "", []Segment{lit("")}},
		{"literal", "plain text", []Segment{lit("plain text")}},
		{"escaped percent", "100%% sure %%", []Segment{lit("100% sure %")}},
		{"simple", "%PROTOCOL%", []Segment{{Op: "PROTOCOL"}}},
		{"literals around", "[%PROTOCOL%] end", []Segment{{Lit: "[", Op: "PROTOCOL"}, lit("] end")}},
		{"adjacent", "%A%%B_2%", []Segment{{Op: "A"}, {Op: "B_2"}}},
		{"length", "%HOSTNAME:12%", []Segment{{Op: "HOSTNAME", Max: 12}}},
		{"length with plus", "%HOSTNAME:+3%", []Segment{{Op: "HOSTNAME", Max: 3}}},
		{"argument", "%GRPC_STATUS(NUMBER)%", []Segment{{Op: "GRPC_STATUS", Arg: "NUMBER", HasArg: true}}},
		{"empty argument", "%X()%", []Segment{{Op: "X", HasArg: true}}},
		{"argument and length", "%X(a):4%", []Segment{{Op: "X", Arg: "a", HasArg: true, Max: 4}}},
		{"argument with parentheses", "%X(a)b)%", []Segment{{Op: "X", Arg: "a)b", HasArg: true}}},
		{"header", "%REQ(x-user)%", []Segment{{Op: "REQ", Arg: "x-user", HasArg: true, Header: "x-user"}}},
		{"header alternative", "%RESP(X-A?:status):2%",
			[]Segment{{Op: "RESP", Arg: "X-A?:status", HasArg: true, Header: "X-A", Alt: ":status", Max: 2}}},
		{"header empty alternative", "%REQ(x?)%", []Segment{{Op: "REQ", Arg: "x?", HasArg: true, Header: "x"}}},
		{"header percent in name", "%REQ(a%b)%", []Segment{{Op: "REQ", Arg: "a%b", HasArg: true, Header: "a%b"}}},
		{"header colon alone", "%REQ(:)%", []Segment{{Op: "REQ", Arg: ":", HasArg: true, Header: ":"}}},
		{"header length first", "%REQ:5(x)%", []Segment{{Op: "REQ", Arg: "x", HasArg: true, Header: "x", Max: 5}}},
		{"header ignored text", "%REQ(x)text(%", []Segment{{Op: "REQ", Arg: "x", HasArg: true, Header: "x"}}},
		{"without query", "%REQ_WITHOUT_QUERY(:PATH)%",
			[]Segment{{Op: "REQ_WITHOUT_QUERY", Arg: ":PATH", HasArg: true, Header: ":PATH"}}},
		{"start time default", "%START_TIME%|%START_TIME()%",
			[]Segment{{Op: "START_TIME"}, {Lit: "|", Op: "START_TIME", HasArg: true}}},
		{"start time format", "%START_TIME(%s)%", []Segment{{Op: "START_TIME", Arg: "%s", HasArg: true,
			Time: TimeFormat{items: []timeItem{{kind: 's'}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.format)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.format, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.format, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ format, want string }{
		{"50%", "invalid operator at offset 2"},
		{"50% off", "single % not allowed"},
		{"%(x)%", "invalid operator at offset 0"},
		{"%PROTOCOL", "not terminated by %"},
		{"%protocol%", "invalid operator at offset 0"},
		{"%PROTOCOL x%", "not terminated by %"},
		{"%X(a", "no closing"},
		{"%X(a\n)%", "no closing"},
		{"%X(a):b%", "no closing"},
		{"%X:0%", "positive integer"},
		{"%X:%", "positive integer"},
		{"%X(a):+%", "positive integer"},
		{"%REQ%", "%REQ% needs a header name"},
		{"%REQ()%", "%REQ% needs a header name"},
		{"%REQ:5%", "%REQ% needs a header name"},
		{"%REQ", "not terminated by %"},
		{"%REQ(X-A", "no closing"},
		{"%REQ(a\nb)%", "no closing"},
		{"%REQ(X):abc%", "no closing"},
		{"%REQ(X):0%", "positive integer"},
		{"%REQ(X)a:5%", "no closing"},
		{"%REQ(X)a)%", "no closing"},
		{"%REQ:5(X)a%", "not terminated by %"},
		{"%REQ:0(X)%", "positive integer"},
		{"%REQ(A?B?C)%", "more than one alternative header"},
		{"%REQ(bad header)%", `invalid header name "bad header"`},
		{"%REQ(?b)%", `invalid header name ""`},
		{"%RESP(a?b/c)%", `invalid header name "b/c"`},
		{"%REQ(::x)%", "invalid header name"},
		{"%START_TIME(%Q)%", "unsupported specifier %Q"},
		{"%START_TIME(%)%", "trailing %"},
	}
	for _, tc := range tests {
		if _, err := Parse(tc.format); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want it to contain %q", tc.format, err, tc.want)
		}
	}
}

func TestSegmentString(t *testing.T) {
	t.Parallel()
	for format, want := range map[string]string{
		"":                        "",
		"100%% %PROTOCOL:3% tail": "100%% %PROTOCOL:3% tail",
		"%REQ:5(x?y)%":            "%REQ(x?y):5%",
		"%REQ(x)junk%":            "%REQ(x)%",
		"%REQ(x?)%":               "%REQ(x)%",
		"%START_TIME(%s)%":        "%START_TIME(%s)%",
		"%START_TIME():+2%":       "%START_TIME():2%",
	} {
		segs, err := Parse(format)
		if err != nil {
			t.Errorf("Parse(%q): %v", format, err)
			continue
		}
		var b strings.Builder
		for _, s := range segs {
			b.WriteString(s.String())
		}
		if b.String() != want {
			t.Errorf("String of Parse(%q) = %q, want %q", format, b.String(), want)
		}
	}
}
