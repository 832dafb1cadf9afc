package h1guard

import "math"

// The chunked transfer coding (RFC 9112 7.1):
//
//	chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	chunk-size = 1*HEXDIG
//	chunk-ext  = *( ";" ext-name [ "=" ext-val ] )
//	ext-val    = token / quoted-string
//	last-chunk = 1*("0") [ chunk-ext ] CRLF, then trailer fields and CRLF
//
// The whitespace (BWS) RFC 9112 allows around ";" and "=" is refused:
// net/http refuses it too, and parsers disagree about it. Chunk-size lines
// are scanned byte by byte (they are short, and bounded by MaxChunkLine);
// chunk data is counted.

// maxChunkDigits bounds the hex digits of a chunk size.
const maxChunkDigits = 16

// chunkLine scans one byte of a chunk-size line.
func (s *scanner) chunkLine(j int) (int, outcome) {
	c := s.b[j]
	if c == '\r' {
		switch {
		case s.st == sChunkSize && s.m.digits > 0,
			s.st == sExtName, s.st == sExtTok, s.st == sExtAfterQuote:
			s.st = sChunkLF
			return j + 1, outMore
		}
		return s.fail(j, 400, "invalid_chunk")
	}
	if s.m.lineLen >= s.lim.MaxChunkLine {
		return s.fail(j, 400, "chunk_line_too_long")
	}
	s.m.lineLen++
	next := s.chunkByte(c)
	if next == sLine { // not a state of a chunk line: the byte is invalid
		if c == '\n' {
			return s.fail(j, 400, "bare_lf")
		}
		return s.fail(j, 400, "invalid_chunk")
	}
	s.st = next
	return j + 1, outMore
}

// chunkByte returns the state after byte c (not CR) of a chunk-size line,
// or sLine when c is invalid there.
func (s *scanner) chunkByte(c byte) state {
	tok := class[c]&cTok != 0
	switch s.st {
	case sChunkSize:
		if class[c]&cHex != 0 {
			return s.digit(c)
		}
		return pick(s.m.digits > 0 && c == ';', sExtName0, false, sLine)
	case sExtName0:
		return pick(tok, sExtName, false, sLine)
	case sExtName:
		if c == '=' {
			return sExtVal0
		}
		return pick(tok, sExtName, c == ';', sExtName0)
	case sExtVal0:
		return pick(tok, sExtTok, c == '"', sExtQuote)
	case sExtTok:
		return pick(tok, sExtTok, c == ';', sExtName0)
	case sExtQuote:
		if c == '\\' {
			return sExtEsc
		}
		return pick(c == '"', sExtAfterQuote, class[c]&cQd != 0, sExtQuote)
	case sExtEsc:
		return pick(class[c]&cVal != 0, sExtQuote, false, sLine)
	}
	return pick(c == ';', sExtName0, false, sLine) // sExtAfterQuote
}

// digit adds a hex digit to the chunk size, or returns sLine when the size
// would have too many digits or overflow an int64.
func (s *scanner) digit(c byte) state {
	if s.m.digits == maxChunkDigits || s.m.size > math.MaxInt64>>4 {
		return sLine
	}
	s.m.size = s.m.size<<4 | unhex(c)
	s.m.digits++
	return sChunkSize
}

// pick returns a if ca holds, else b if cb holds, else sLine (invalid).
func pick(ca bool, a state, cb bool, b state) state {
	switch {
	case ca:
		return a
	case cb:
		return b
	}
	return sLine
}

// chunkData scans the CRLF ending a chunk-size line, the chunk data and the
// CRLF after it.
func (s *scanner) chunkData(j int) (int, outcome) {
	c := s.b[j]
	switch s.st {
	case sChunkLF:
		if c != '\n' {
			return s.fail(j, 400, "invalid_chunk")
		}
		s.m.firstLine = false
		if s.m.size == 0 {
			s.m.trailer = true
			s.base = j + 1 - s.m.headLen
			s.st = sFieldStart
			return j + 1, outMore
		}
		s.m.rem = s.m.size
		s.st = sChunkData
		return j + 1, outMore
	case sChunkData:
		n := min(s.m.rem, int64(len(s.b)-j))
		if s.m.rem -= n; s.m.rem == 0 {
			s.st = sDataCR
		}
		return j + int(n), outMore
	case sDataCR:
		if c == '\r' {
			s.st = sDataLF
			return j + 1, outMore
		}
	case sDataLF:
		if c == '\n' {
			s.st = sChunkSize
			s.m.size, s.m.digits, s.m.lineLen = 0, 0, 0
			return j + 1, outMore
		}
	}
	if c == '\n' {
		return s.fail(j, 400, "bare_lf")
	}
	return s.fail(j, 400, "invalid_chunk")
}
