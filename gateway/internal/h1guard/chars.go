package h1guard

// Byte classes of RFC 9110 and RFC 9112, one bit each in class.
const (
	cTok = 1 << iota // tchar: a byte of a token
	cVal             // a field-value byte: VCHAR, SP, HTAB or obs-text
	cTgt             // a request-target byte: anything but CTL, SP and DEL
	cQd              // qdtext of a quoted-string
	cHex             // HEXDIG
)

// class maps each byte to its classes.
var class = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		if isTchar(c) {
			t[i] |= cTok
		}
		if c == '\t' || (c >= ' ' && c != 0x7f) {
			t[i] |= cVal
		}
		if c > ' ' && c != 0x7f {
			t[i] |= cTgt
		}
		if c == '\t' || c == ' ' || c == '!' || (c >= '#' && c != '\\' && c != 0x7f) {
			t[i] |= cQd
		}
		if unhex(c) >= 0 {
			t[i] |= cHex
		}
	}
	return t
}()

// span returns the length of the prefix of b whose bytes are all of class
// cls.
func span(b []byte, cls uint8) int {
	for i, c := range b {
		if class[c]&cls == 0 {
			return i
		}
	}
	return len(b)
}

// isTchar reports whether c is a tchar of RFC 9110 5.6.2.
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// unhex returns the value of the hexadecimal digit c, or -1.
func unhex(c byte) int64 {
	switch {
	case c >= '0' && c <= '9':
		return int64(c - '0')
	case c >= 'a' && c <= 'f':
		return int64(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int64(c - 'A' + 10)
	}
	return -1
}

// isWS reports whether c is optional whitespace (SP or HTAB).
func isWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS returns v without leading and trailing SP and HTAB.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && isWS(v[0]) {
		v = v[1:]
	}
	for len(v) > 0 && isWS(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	return v
}

// nextElem splits a comma-separated list: it returns the first element,
// without surrounding whitespace, and the rest after its comma. more is
// false when v held the last element.
func nextElem(v []byte) (elem, rest []byte, more bool) {
	for i, c := range v {
		if c == ',' {
			return trimOWS(v[:i]), v[i+1:], true
		}
	}
	return trimOWS(v), nil, false
}

// equalFold reports whether v equals the lower-case ASCII string s,
// ignoring ASCII case in v.
func equalFold(v []byte, s string) bool {
	if len(v) != len(s) {
		return false
	}
	for i, c := range v {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// isToken reports whether v is a non-empty token.
func isToken(v []byte) bool {
	for _, c := range v {
		if class[c]&cTok == 0 {
			return false
		}
	}
	return len(v) > 0
}
