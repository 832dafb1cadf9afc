package envoyfmt

import (
	"strconv"
	"strings"
	"time"
)

// TimeFormat is a compiled START_TIME format: strftime-like, always in
// UTC, as Envoy formats it. The zero value is Envoy's default,
// %Y-%m-%dT%H:%M:%E3SZ (2026-11-25T13:40:00.123Z). A TimeFormat is
// immutable and safe for concurrent use.
type TimeFormat struct{ items []timeItem }

// timeItem is literal text (kind 0) or one specifier: its letter, and for
// 'f' (fraction) and 'S' with n > 0 (seconds.fraction) the digits.
type timeItem struct {
	kind byte
	n    int
	lit  string
}

// timeSupported lists the specifiers parseTime accepts, for errors.
const timeSupported = "%Y %y %m %d %e %H %I %M %S %p %j %a %A %b %B %h %s %f %1f..%9f %E1S..%E9S %z %Ez %Z %T %F %D %R %%"

// parseTime compiles the argument of START_TIME.
func parseTime(f string) (TimeFormat, error) {
	var out []timeItem
	lit := func(s string) {
		if n := len(out); n > 0 && out[n-1].kind == 0 {
			out[n-1].lit += s
		} else {
			out = append(out, timeItem{lit: s})
		}
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			lit(f[i : i+1])
			continue
		}
		i++
		if i >= len(f) {
			return TimeFormat{}, errTime(f, "trailing %")
		}
		items, skip, text, ok := timeSpecifier(f[i:])
		if !ok {
			return TimeFormat{}, errTime(f, "unsupported specifier %"+string(f[i]))
		}
		if text != "" {
			lit(text)
		}
		out = append(out, items...)
		i += skip
	}
	return TimeFormat{items: out}, nil
}

// timeSpecifier reads the specifier at the start of s (just after '%'):
// the items it stands for or the literal text it stands for, and how many
// bytes beyond the first it used.
func timeSpecifier(s string) (items []timeItem, skip int, text string, ok bool) {
	c := s[0]
	switch {
	case c == '%':
		return nil, 0, "%", true
	case c >= '1' && c <= '9' && len(s) > 1 && s[1] == 'f': // %3f
		return []timeItem{{kind: 'f', n: int(c - '0')}}, 1, "", true
	case c == 'f':
		return []timeItem{{kind: 'f', n: 9}}, 0, "", true
	case c == 'E' && len(s) > 2 && s[1] >= '1' && s[1] <= '9' && (s[2] == 'S' || s[2] == 'f'): // %E3S %E3f
		return []timeItem{{kind: s[2], n: int(s[1] - '0')}}, 2, "", true
	case c == 'E' && len(s) > 1 && s[1] == 'z': // %Ez: +00:00
		return nil, 1, "+00:00", true
	case c == 'z':
		return nil, 0, "+0000", true
	case c == 'Z':
		return nil, 0, "UTC", true
	case c == 'T':
		return []timeItem{{kind: 'H'}, {lit: ":"}, {kind: 'M'}, {lit: ":"}, {kind: 'S'}}, 0, "", true
	case c == 'F':
		return []timeItem{{kind: 'Y'}, {lit: "-"}, {kind: 'm'}, {lit: "-"}, {kind: 'd'}}, 0, "", true
	case c == 'D':
		return []timeItem{{kind: 'm'}, {lit: "/"}, {kind: 'd'}, {lit: "/"}, {kind: 'y'}}, 0, "", true
	case c == 'R':
		return []timeItem{{kind: 'H'}, {lit: ":"}, {kind: 'M'}}, 0, "", true
	case strings.IndexByte("YymdeHIMSpjaAbBhs", c) >= 0:
		return []timeItem{{kind: c}}, 0, "", true
	}
	return nil, 0, "", false
}

func errTime(f, why string) error {
	return &timeError{f, why}
}

// timeError is a START_TIME format gatehouse cannot format.
type timeError struct{ format, why string }

func (e *timeError) Error() string {
	return "%START_TIME(" + e.format + ")%: " + e.why + " (supported: " + timeSupported + ")"
}

// Append appends t, in UTC, formatted by f. It allocates only to grow b.
func (f TimeFormat) Append(b []byte, t time.Time) []byte {
	t = t.UTC()
	if f.items == nil {
		y, mo, d := t.Date()
		h, mi, s := t.Clock()
		b = append(pad(b, y, 4), '-')
		b = append(pad(b, int(mo), 2), '-')
		b = append(pad(b, d, 2), 'T')
		b = append(pad(b, h, 2), ':')
		b = append(pad(b, mi, 2), ':')
		b = append(pad(b, s, 2), '.')
		return append(fraction(b, t, 3), 'Z')
	}
	for _, x := range f.items {
		b = x.append(b, t)
	}
	return b
}

func (x timeItem) append(b []byte, t time.Time) []byte {
	switch x.kind {
	case 0:
		return append(b, x.lit...)
	case 'Y':
		return pad(b, t.Year(), 4)
	case 'y':
		return pad(b, t.Year()%100, 2)
	case 'm':
		return pad(b, int(t.Month()), 2)
	case 'd':
		return pad(b, t.Day(), 2)
	case 'e':
		if t.Day() < 10 {
			b = append(b, ' ')
		}
		return pad(b, t.Day(), 1)
	case 'H':
		return pad(b, t.Hour(), 2)
	case 'I':
		return pad(b, (t.Hour()+11)%12+1, 2)
	case 'p':
		if t.Hour() < 12 {
			return append(b, "AM"...)
		}
		return append(b, "PM"...)
	case 'M':
		return pad(b, t.Minute(), 2)
	case 'S':
		b = pad(b, t.Second(), 2)
		if x.n > 0 {
			b = fraction(append(b, '.'), t, x.n)
		}
		return b
	case 'f':
		return fraction(b, t, x.n)
	}
	return x.appendName(b, t)
}

// appendName formats the day, month and epoch specifiers.
func (x timeItem) appendName(b []byte, t time.Time) []byte {
	switch x.kind {
	case 'j':
		return pad(b, t.YearDay(), 3)
	case 'a':
		return append(b, t.Weekday().String()[:3]...)
	case 'A':
		return append(b, t.Weekday().String()...)
	case 'b', 'h':
		return append(b, t.Month().String()[:3]...)
	case 'B':
		return append(b, t.Month().String()...)
	case 's':
		return strconv.AppendInt(b, t.Unix(), 10)
	}
	return b
}

// pad appends v (negative: 0) in decimal with at least width digits.
func pad(b []byte, v, width int) []byte {
	if v < 0 {
		v = 0
	}
	var d [20]byte
	i := len(d)
	for v >= 10 || width > 1 {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	d[i] = byte('0' + v)
	return append(b, d[i:]...)
}

// fraction appends the first n digits of t's fraction of a second.
func fraction(b []byte, t time.Time, n int) []byte {
	ns := t.Nanosecond()
	for k := 9; k > n; k-- {
		ns /= 10
	}
	return pad(b, ns, n)
}
