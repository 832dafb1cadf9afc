package envoyfmt

import (
	"testing"
	"time"
)

func TestTimeFormat(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 13, 40, 0, 123456789, time.FixedZone("CET", 3600))
	early := time.Date(2026, 3, 5, 9, 7, 2, 0, time.UTC)
	tests := []struct {
		format string
		t      time.Time
		want   string
	}{
		{"", at, "2026-11-25T12:40:00.123Z"},
		{"%Y/%m/%d %H:%M:%S%z", at, "2026/11/25 12:40:00+0000"},
		{"%s.%3f", at, "1795610400.123"},
		{"%6f %9f %f %1f", at, "123456 123456789 123456789 1"},
		{"%F %T %Z", at, "2026-11-25 12:40:00 UTC"},
		{"%E3S %E6S %E2f", at, "00.123 00.123456 12"},
		{"%a %A %b %B %h %e %I%p %j %y %D %R %Ez %%", at,
			"Wed Wednesday Nov November Nov 25 12PM 329 26 11/25/26 12:40 +00:00 %"},
		{"%e|%I%p|%j", early, " 5|09AM|064"},
		{"literal (text)", at, "literal (text)"},
	}
	for _, tc := range tests {
		f, err := parseTime(tc.format)
		if err != nil {
			t.Fatalf("parseTime(%q): %v", tc.format, err)
		}
		if got := string(f.Append(nil, tc.t)); got != tc.want {
			t.Errorf("%q: Append = %q, want %q", tc.format, got, tc.want)
		}
	}
}

func TestTimeFormatAllocs(t *testing.T) {
	f, err := parseTime("%F %T.%6f %a")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	now := time.Now()
	if n := testing.AllocsPerRun(200, func() { buf = f.Append(buf[:0], now) }); n != 0 {
		t.Errorf("Append allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() { buf = (TimeFormat{}).Append(buf[:0], now) }); n != 0 {
		t.Errorf("default Append allocates %v times, want 0", n)
	}
}
