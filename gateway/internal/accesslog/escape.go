package accesslog

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// appendEscaped escapes s for a JSON string, which is also the TEXT
// escaping: " and \ are backslash-escaped; \n \r \t as such; other C0/C1
// controls, DEL, U+2028 and U+2029 as \uXXXX; each invalid UTF-8 byte as
// \ufffd; with escSpace, a space as \u0020 (it would split a TEXT field).
// The result never contains a raw control character, so a value can never
// end the line, forge a field or leave its quotes.
func appendEscaped(b []byte, s string, escSpace bool) []byte {
	safe, lt := &safeASCII, uint64(0x20)
	if escSpace {
		safe, lt = &safeASCIINoSpace, 0x21
	}
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && safeWord(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
			uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56, lt) {
			i += 8
		}
		for i < len(s) && safe[s[i]] {
			i++
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r >= 0x80 && r < 0xa0 || r == 0x2028 || r == 0x2029 {
				b = append(b, s[start:i]...)
				if r == utf8.RuneError {
					r = 0xfffd
				}
				b = append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
				start = i + size
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(b, s[start:]...)
}

// safeASCII marks the ASCII bytes copied as they are (bytes >= 0x80 take the
// UTF-8 path).
var safeASCII, safeASCIINoSpace = func() (a, b [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		a[c] = c != '"' && c != '\\'
		b[c] = a[c] && c != ' '
	}
	return a, b
}()

// safeWord reports whether 8 bytes are all safe ASCII: none < lt, none
// >= 0x7f, no '"' or '\\' (exact: the has-zero/has-less bit tricks).
func safeWord(x, lt uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - lo) &^ v & hi }
	return x&hi|(x-lo*lt)&^x&hi|zero(x^lo*0x7f)|zero(x^lo*'"')|zero(x^lo*'\\') == 0
}
