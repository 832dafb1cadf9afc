package h1guard

// The request line: METHOD SP request-target SP HTTP-version CRLF.

// method scans the method token up to its SP.
func (s *scanner) method(j int) (int, outcome) {
	b, stop := s.b, s.stop()
	j += span(b[j:stop], cTok)
	if j == stop {
		return j, outMore
	}
	switch b[j] {
	case ' ':
		s.m.mlen = j - s.base
		s.m.connect = string(b[s.base:j]) == "CONNECT"
		s.st = sTarget
		return j + 1, outMore
	case '\n':
		return s.fail(j, 400, "bare_lf")
	}
	return s.fail(j, 400, "method_invalid")
}

// target scans the request-target up to its SP.
func (s *scanner) target(j int) (int, outcome) {
	b := s.b
	t0 := s.base + s.m.mlen + 1
	j += span(b[j:min(s.stop(), t0+s.lim.MaxTarget)], cTgt)
	if j == len(b) || j == s.base+s.lim.MaxHeaderBytes {
		return j, outMore
	}
	switch c := b[j]; {
	case class[c]&cTgt != 0: // only at t0+MaxTarget
		return s.fail(j, 414, "target_too_long")
	case c == ' ' && j > t0:
		s.m.tlen = j - t0
		s.m.vpos = 0
		s.st = sVersion
		return j + 1, outMore
	case c == '\n':
		return s.fail(j, 400, "bare_lf")
	case c == '\r':
		return s.fail(j, 400, "request_line_invalid")
	}
	return s.fail(j, 400, "target_invalid")
}

// version scans "HTTP/" DIGIT "." DIGIT and the CR after it.
func (s *scanner) version(j int) (int, outcome) {
	b := s.b
	if s.m.vpos == 0 && s.stop()-j >= 9 && string(b[j:j+9]) == "HTTP/1.1\r" {
		if !s.targetOK() {
			return s.fail(j+8, 400, "target_invalid")
		}
		s.st = sLineLF
		return j + 9, outMore
	}
	const name = "HTTP/"
	c, ok := b[j], false
	switch v := s.m.vpos; {
	case v < len(name):
		ok = c == name[v]
	case v == 5 || v == 7:
		ok = c >= '0' && c <= '9'
	case v == 6:
		ok = c == '.'
	case c == '\r':
		return s.versionEnd(j)
	}
	if !ok {
		if c == '\n' {
			return s.fail(j, 400, "bare_lf")
		}
		return s.fail(j, 400, "version_invalid")
	}
	s.m.vpos++
	return j + 1, outMore
}

// versionEnd accepts HTTP/1.1 and HTTP/1.0 at the CR ending the request
// line, and turns to the HTTP/2 preface for "PRI * HTTP/2.0".
func (s *scanner) versionEnd(j int) (int, outcome) {
	major, minor := s.b[j-3], s.b[j-1]
	switch {
	case major == '1' && (minor == '1' || minor == '0'):
		s.m.h10 = minor == '0'
		if !s.targetOK() {
			return s.fail(j, 400, "target_invalid")
		}
	case string(s.b[s.base:j]) == "PRI * HTTP/2.0":
		if !s.m.h2 || !s.lim.AllowH2C {
			return s.fail(j, 400, "h2_preface")
		}
		s.m.vpos = 0
		s.st = sPreface
		return j + 1, outMore
	default:
		return s.fail(j, 505, "version_unsupported")
	}
	s.st = sLineLF
	return j + 1, outMore
}

// preface matches the rest of the HTTP/2 connection preface.
func (s *scanner) preface(j int) (int, outcome) {
	const rest = "\n\r\nSM\r\n\r\n"
	if s.b[j] != rest[s.m.vpos] {
		// A client speaking HTTP/2 would read an HTTP/1.1 answer as a
		// broken frame: the connection closes without one.
		return s.fail(j, 0, "h2_preface_invalid")
	}
	s.m.vpos++
	if s.m.vpos == len(rest) {
		return j + 1, outPass
	}
	return j + 1, outMore
}

// targetOK checks the form of the request-target just scanned.
func (s *scanner) targetOK() bool {
	t0 := s.base + s.m.mlen + 1
	return targetForm(s.b[s.base:s.base+s.m.mlen], s.b[t0:t0+s.m.tlen])
}

// targetForm reports whether target is one of the four request-target
// forms (RFC 9112 3.2) for method: origin-form ("/path"), absolute-form
// ("scheme://authority..."), authority-form for CONNECT, and "*" for
// OPTIONS. Anything else ("foo", "0", an IPv6 authority left open) is
// refused here, before an engine refuses it unseen.
func targetForm(method, target []byte) bool {
	switch {
	case target[0] == '/':
		return true
	case string(target) == "*":
		return string(method) == "OPTIONS"
	case string(method) == "CONNECT":
		return !containsByte(target, '/')
	}
	i := 0
	for i < len(target) && isSchemeByte(target[i], i == 0) {
		i++
	}
	rest := target[i:]
	if i == 0 || len(rest) < 3 || string(rest[:3]) != "://" {
		return false
	}
	authority := rest[3:]
	if len(authority) > 0 && authority[0] == '[' {
		return containsByte(authority, ']')
	}
	return true
}

func isSchemeByte(c byte, first bool) bool {
	letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	return letter || !first && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}
