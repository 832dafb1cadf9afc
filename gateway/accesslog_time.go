package gateway

import (
	"strconv"
	"strings"
	"time"
)

// START_TIME(format): strftime-like, always UTC, as Envoy.

type alTT struct {
	kind byte   // specifier letter; 0 = literal; 'f' fraction (n digits); 'S' with n>0: seconds.fraction
	n    int    // digits
	lit  string // literal text
}

func alCompileTime(f string) ([]alTT, error) {
	var out []alTT
	lit := func(s string) {
		if len(out) > 0 && out[len(out)-1].kind == 0 {
			out[len(out)-1].lit += s
		} else {
			out = append(out, alTT{lit: s})
		}
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			lit(f[i : i+1])
			continue
		}
		i++
		if i >= len(f) {
			return nil, errAccessLogTime(f, "trailing %")
		}
		c := f[i]
		switch {
		case c == '%':
			lit("%")
		case c >= '1' && c <= '9' && i+1 < len(f) && f[i+1] == 'f': // %3f
			out = append(out, alTT{kind: 'f', n: int(c - '0')})
			i++
		case c == 'f':
			out = append(out, alTT{kind: 'f', n: 9})
		case c == 'E' && i+2 < len(f) && f[i+1] >= '1' && f[i+1] <= '9' && (f[i+2] == 'S' || f[i+2] == 'f'): // %E3S %E3f
			out = append(out, alTT{kind: f[i+2], n: int(f[i+1] - '0')})
			i += 2
		case c == 'E' && i+1 < len(f) && f[i+1] == 'z': // %Ez: +00:00
			lit("+00:00")
			i++
		case c == 'T':
			out = append(out, alTT{kind: 'H'}, alTT{lit: ":"}, alTT{kind: 'M'}, alTT{lit: ":"}, alTT{kind: 'S'})
		case c == 'F':
			out = append(out, alTT{kind: 'Y'}, alTT{lit: "-"}, alTT{kind: 'm'}, alTT{lit: "-"}, alTT{kind: 'd'})
		case c == 'D':
			out = append(out, alTT{kind: 'm'}, alTT{lit: "/"}, alTT{kind: 'd'}, alTT{lit: "/"}, alTT{kind: 'y'})
		case c == 'R':
			out = append(out, alTT{kind: 'H'}, alTT{lit: ":"}, alTT{kind: 'M'})
		case c == 'z':
			lit("+0000")
		case c == 'Z':
			lit("UTC")
		case strings.IndexByte("YymdeHIMSpjaAbBhs", c) >= 0:
			out = append(out, alTT{kind: c})
		default:
			return nil, errAccessLogTime(f, "unsupported specifier %"+string(c))
		}
	}
	return out, nil
}

func errAccessLogTime(f, why string) error {
	return &accessLogTimeError{f, why}
}

type accessLogTimeError struct{ format, why string }

func (e *accessLogTimeError) Error() string {
	return "accessLogFormat: %START_TIME(" + e.format + ")%: " + e.why +
		" (supported: %Y %y %m %d %e %H %I %M %S %p %j %a %A %b %B %h %s %f %1f..%9f %E1S..%E9S %z %Ez %Z %T %F %D %R %%)"
}

func alPad(b []byte, v, width int) []byte {
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

func alFrac(b []byte, t time.Time, n int) []byte {
	ns := t.Nanosecond()
	for k := 9; k > n; k-- {
		ns /= 10
	}
	return alPad(b, ns, n)
}

// alAppendTime formats t in UTC; nil tt is Envoy's default
// %Y-%m-%dT%H:%M:%E3SZ (2026-11-25T13:40:00.123Z).
func alAppendTime(b []byte, t time.Time, tt []alTT) []byte {
	t = t.UTC()
	if tt == nil {
		y, mo, d := t.Date()
		h, mi, s := t.Clock()
		b = append(alPad(b, y, 4), '-')
		b = append(alPad(b, int(mo), 2), '-')
		b = append(alPad(b, d, 2), 'T')
		b = append(alPad(b, h, 2), ':')
		b = append(alPad(b, mi, 2), ':')
		b = append(alPad(b, s, 2), '.')
		return append(alFrac(b, t, 3), 'Z')
	}
	for _, x := range tt {
		switch x.kind {
		case 0:
			b = append(b, x.lit...)
		case 'Y':
			b = alPad(b, t.Year(), 4)
		case 'y':
			b = alPad(b, t.Year()%100, 2)
		case 'm':
			b = alPad(b, int(t.Month()), 2)
		case 'd':
			b = alPad(b, t.Day(), 2)
		case 'e':
			if t.Day() < 10 {
				b = append(b, ' ')
			}
			b = alPad(b, t.Day(), 1)
		case 'H':
			b = alPad(b, t.Hour(), 2)
		case 'I':
			b = alPad(b, (t.Hour()+11)%12+1, 2)
		case 'p':
			if t.Hour() < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'M':
			b = alPad(b, t.Minute(), 2)
		case 'S':
			b = alPad(b, t.Second(), 2)
			if x.n > 0 {
				b = alFrac(append(b, '.'), t, x.n)
			}
		case 'f':
			b = alFrac(b, t, x.n)
		case 'j':
			b = alPad(b, t.YearDay(), 3)
		case 'a':
			b = append(b, t.Weekday().String()[:3]...)
		case 'A':
			b = append(b, t.Weekday().String()...)
		case 'b', 'h':
			b = append(b, t.Month().String()[:3]...)
		case 'B':
			b = append(b, t.Month().String()...)
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		}
	}
	return b
}
