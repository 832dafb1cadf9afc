package h1guard

import "math/bits"

// Field lines: name ":" OWS value OWS CRLF, in the head and in trailers.

// fieldID names the header fields the guard acts on.
type fieldID uint8

// The fields the guard acts on; fOther is every other field.
const (
	fOther fieldID = iota
	fContentLength
	fTransferEncoding
	fConnection
	fUpgrade
	fHost
)

// knownNames holds the lower-case names of fContentLength to fHost, in order.
var knownNames = [...]string{"content-length", "transfer-encoding", "connection", "upgrade", "host"}

// knownField returns the known field name is, ignoring ASCII case.
func knownField(name []byte) fieldID {
	for i, n := range knownNames {
		if len(n) == len(name) && equalFold(name, n) {
			return fieldID(i + 1)
		}
	}
	return fOther
}

// firstCand maps a name's first byte to the known names it may start.
var firstCand = func() (t [256]uint8) {
	for i, n := range knownNames {
		t[n[0]] |= 1 << i
		t[n[0]-'a'+'A'] |= 1 << i
	}
	return t
}()

// field scans a field line or the empty line ending the section.
func (s *scanner) field(j int) (int, outcome) {
	switch s.st {
	case sFieldStart:
		return s.fieldStart(j)
	case sName:
		return s.name(j)
	case sValue:
		return s.value(j)
	case sFieldLF:
		return s.fieldLF(j)
	}
	if s.b[j] != '\n' {
		return s.fail(j, 400, "bare_cr")
	}
	if s.m.trailer {
		return s.msgEnd(j + 1)
	}
	return s.headEnd(j + 1)
}

// fieldStart scans the first byte of a line.
func (s *scanner) fieldStart(j int) (int, outcome) {
	switch c := s.b[j]; {
	case c == '\r':
		s.st = sEndLF
		return j + 1, outMore
	case c == '\n':
		return s.fail(j, 400, "bare_lf")
	case isWS(c):
		return s.fail(j, 400, "obs_fold")
	case class[c]&cTok != 0:
		if s.m.nf == s.lim.MaxHeaders {
			return s.fail(j, 431, "too_many_headers")
		}
		s.m.nf++
		s.m.nameOff = j - s.base
		if s.m.trailer {
			// Trailer names may straddle reads that were delivered
			// already: they are matched byte by byte.
			s.m.cand = firstCand[c]
		}
		s.st = sName
		return j, outMore
	}
	return s.fail(j, 400, "header_name_invalid")
}

// name scans a field name up to its colon, in a trailer narrowing the
// known names it may be as it goes.
func (s *scanner) name(j int) (int, outcome) {
	b, stop := s.b, s.stop()
	for s.m.cand != 0 && j < stop && class[b[j]]&cTok != 0 {
		s.narrow(j - s.base - s.m.nameOff)
		j++
	}
	j += span(b[j:stop], cTok)
	if j == stop {
		return j, outMore
	}
	switch b[j] {
	case ':':
		return s.colon(j)
	case '\n':
		return s.fail(j, 400, "bare_lf")
	}
	return s.fail(j, 400, "header_name_invalid")
}

// narrow drops the known names whose byte at pos differs, ignoring case,
// from the name byte there.
func (s *scanner) narrow(pos int) {
	c := s.b[s.base+s.m.nameOff+pos] | 0x20
	for m := s.m.cand; m != 0; m &= m - 1 {
		i := bits.TrailingZeros8(m)
		if n := knownNames[i]; pos >= len(n) || n[pos] != c {
			s.m.cand &^= 1 << i
		}
	}
}

// colon ends a field name: it settles which known field it is.
func (s *scanner) colon(j int) (int, outcome) {
	n := j - s.base - s.m.nameOff
	s.m.field = fOther
	if !s.m.trailer {
		// The head is all in b: compare the whole name.
		s.m.field = knownField(s.b[j-n : j])
	}
	for m := s.m.cand; m != 0; m &= m - 1 {
		if i := bits.TrailingZeros8(m); len(knownNames[i]) == n {
			s.m.field = fieldID(i + 1)
		}
	}
	if s.m.trailer && (s.m.field == fContentLength || s.m.field == fTransferEncoding) {
		return s.fail(j, 400, "trailer_framing_field")
	}
	s.m.valOff = j + 1 - s.base
	s.st = sValue
	return j + 1, outMore
}

// value scans a field value up to its CR.
func (s *scanner) value(j int) (int, outcome) {
	b, stop := s.b, s.stop()
	j += span(b[j:stop], cVal)
	if j == stop {
		return j, outMore
	}
	switch b[j] {
	case '\r':
		s.m.valEnd = j - s.base
		s.st = sFieldLF
		return j + 1, outMore
	case '\n':
		return s.fail(j, 400, "bare_lf")
	}
	return s.fail(j, 400, "header_value_invalid")
}

// fieldLF ends a field line; a known head field takes effect here.
func (s *scanner) fieldLF(j int) (int, outcome) {
	if s.b[j] != '\n' {
		return s.fail(j, 400, "bare_cr")
	}
	s.st = sFieldStart
	if s.m.trailer || s.m.field == fOther {
		return j + 1, outMore
	}
	v := trimOWS(s.b[s.base+s.m.valOff : s.base+s.m.valEnd])
	if status, reason := s.apply(v); status != 0 {
		return s.fail(j, status, reason)
	}
	return j + 1, outMore
}
