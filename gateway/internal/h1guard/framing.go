package h1guard

// Message framing (RFC 9112 6): what the known head fields mean for where a
// request ends.

// maxCLDigits bounds a Content-Length value: 18 digits always fit an int64.
const maxCLDigits = 18

// apply records a known head field with value v (without surrounding
// whitespace). It returns a status and reason when the field is refused.
func (s *scanner) apply(v []byte) (int, string) {
	m := &s.m
	switch m.field {
	case fContentLength:
		n, reason := parseContentLength(v)
		switch {
		case reason != "":
			return 400, reason
		case m.te:
			return 400, "content_length_and_transfer_encoding"
		case m.cl >= 0 && m.cl != n:
			return 400, "content_length_mismatch"
		}
		m.cl = n
	case fTransferEncoding:
		return s.transferEncoding(v)
	case fConnection:
		m.connUpg = m.connUpg || hasToken(v, "upgrade")
	case fUpgrade:
		m.upg = m.upg || len(v) > 0
	case fHost:
		if m.hosts++; m.hosts > 1 {
			return 400, "host_repeated"
		}
	}
	return 0, ""
}

// transferEncoding records a Transfer-Encoding field: only one field whose
// value is chunked is accepted, and only on HTTP/1.1 without
// Content-Length. A well-formed list of other codings is unsupported (501);
// anything else is malformed (400).
func (s *scanner) transferEncoding(v []byte) (int, string) {
	m := &s.m
	switch {
	case m.h10:
		return 400, "transfer_encoding_http10"
	case m.cl >= 0:
		return 400, "content_length_and_transfer_encoding"
	case m.te:
		return 400, "transfer_encoding_repeated"
	}
	m.te = true
	if equalFold(v, "chunked") {
		m.chunked = true
		return 0, ""
	}
	for more := true; more; {
		var e []byte
		if e, v, more = nextElem(v); !isToken(e) {
			return 400, "transfer_encoding_invalid"
		}
	}
	return 501, "transfer_encoding_unsupported"
}

// parseContentLength parses one Content-Length value: digits only. A list
// ("5, 5"), which RFC 9110 lets a recipient accept when its values agree,
// is refused, as the engines behind the guard refuse it: the guard must
// refuse everything they would, so that every refusal is logged.
// Repeated fields with one value each are compared by the caller.
func parseContentLength(v []byte) (int64, string) {
	e, _, more := nextElem(v)
	if more || len(e) == 0 || len(e) > maxCLDigits || (e[0] == '0' && len(e) > 1) {
		return 0, "content_length_invalid"
	}
	var x int64
	for _, c := range e {
		if c < '0' || c > '9' {
			return 0, "content_length_invalid"
		}
		x = x*10 + int64(c-'0')
	}
	return x, ""
}

// hasToken reports whether the comma-separated list v holds token, ignoring
// ASCII case; token is lower case.
func hasToken(v []byte, token string) bool {
	for more := true; more; {
		var e []byte
		if e, v, more = nextElem(v); equalFold(e, token) {
			return true
		}
	}
	return false
}

// headEnd is called after the empty line ending a head, with k just past
// it: the body, if any, comes next.
func (s *scanner) headEnd(k int) (int, outcome) {
	m := &s.m
	if !m.h10 && m.hosts == 0 {
		return s.fail(k-1, 400, "host_missing")
	}
	m.headLen = k - s.base
	m.upgrade = m.connect || (!m.h10 && m.upg && m.connUpg)
	if m.chunked || m.upgrade {
		s.line.save(s.b[s.base:], m.mlen, m.tlen)
	}
	switch {
	case m.chunked:
		s.st = sChunkSize
		m.firstLine = true
		return k, outMore
	case m.cl > 0:
		m.rem = m.cl
		s.st = sBody
		return k, outMore
	}
	return s.msgEnd(k)
}

// msgEnd is called at the end of a request, with k just past it. After an
// upgrade or CONNECT request the scan stops: what the client sends next is
// HTTP or not depending on the response, so the bytes after k wait for it.
func (s *scanner) msgEnd(k int) (int, outcome) {
	s.msgs++
	s.st = sLine
	s.lead = 0
	s.hb = 0
	if !s.m.upgrade {
		return k, outMore
	}
	s.cut = k
	return k, outPending
}

// body counts Content-Length body bytes.
func (s *scanner) body(j int) (int, outcome) {
	n := min(s.m.rem, int64(len(s.b)-j))
	s.m.rem -= n
	j += int(n)
	if s.m.rem == 0 {
		return s.msgEnd(j)
	}
	return j, outMore
}
