package h1guard

// state is where the scanner is in the request stream.
type state uint8

// The states, in an order the dispatch in step relies on.
const (
	sLine   state = iota // before a request line; empty lines are skipped
	sLeadLF              // after the CR of a skipped empty line
	sMethod
	sTarget
	sVersion
	sLineLF     // after the CR ending the request line
	sPreface    // after "PRI * HTTP/2.0\r": the rest of the HTTP/2 preface
	sFieldStart // at the start of a field line (head or trailer section)
	sName
	sValue
	sFieldLF // after the CR ending a field line
	sEndLF   // after the CR of the empty line ending the section
	sBody    // in a Content-Length body
	sChunkSize
	sExtName0      // after ";": an extension name must follow
	sExtName       // in an extension name
	sExtVal0       // after "=": a value must follow
	sExtTok        // in a token value
	sExtQuote      // in a quoted-string value
	sExtEsc        // after a backslash in a quoted-string
	sExtAfterQuote // after a quoted-string value
	sChunkLF       // after the CR ending a chunk-size line
	sChunkData
	sDataCR // after chunk data: CR expected
	sDataLF // after chunk data and CR: LF expected
)

// maxLeadingLines is how many empty lines before a request line are skipped.
const maxLeadingLines = 4

// outcome tells the Conn what to do with the bytes scan returned.
type outcome uint8

const (
	outMore    outcome = iota // all scanned; an unfinished head is held
	outPass                   // HTTP/2 preface: the rest passes through
	outPending                // an upgrade or CONNECT request ended; the rest waits unscanned
	outBad                    // a violation; see scanner.ref
)

// scanner is the request-stream state machine. It is resumable: scan takes
// the bytes in whatever pieces they arrive and keeps its place between
// calls, so no byte is scanned twice. It belongs to the reading goroutine.
type scanner struct {
	lim   Limits
	st    state
	fresh bool // nothing scanned yet: an HTTP/2 preface may start here
	lead  int  // empty lines skipped before the coming request line
	hb    int  // bytes of the current head (or head and trailers) so far
	msgs  int  // requests completed: a later head is timed (Limits.HeadTimeout)
	m     msg
	line  savedLine
	ref   *Refusal // the violation, once there is one
	cut   int      // where the deliverable bytes end, after outBad or outPending
	// start is where the current request begins in b when its head has
	// not been delivered (it began in this scan, or was held into it),
	// else -1: a violation in its body then refuses it whole.
	start int

	// Valid during one scan call only.
	b    []byte
	base int // index in b where the head starts (virtual for trailers)
	gap  int // skipped bytes removed from b so far
	seg  int // start of the bytes not yet moved down by gap
}

// msg is the per-request part of the scanner, reset at each request line.
// Offsets named ...Off and ...End are relative to scanner.base.
type msg struct {
	h2      bool // the head started the connection: it may be the h2 preface
	h10     bool // HTTP/1.0
	connect bool // CONNECT
	te      bool // a Transfer-Encoding field was seen
	chunked bool // ... and it was chunked: a chunked body follows the head
	// firstLine is set while the first chunk-size line is read, and
	// headSent once a scan ended with the head delivered.
	firstLine, headSent bool
	upg                 bool // a non-empty Upgrade field was seen
	connUpg             bool // a Connection field listed "upgrade"
	upgrade             bool // the request awaits a 101 (or a 2xx to CONNECT)
	trailer             bool // scanning the trailer section of the chunked body

	mlen, tlen int // method and target lengths
	vpos       int // bytes of the version (or of the preface's rest) matched
	nf, hosts  int // field lines so far, Host fields so far
	headLen    int // the head's length, once it ended

	nameOff        int     // where the current field's name starts
	cand           uint8   // known field names the current name may still be
	field          fieldID // the current field, once its colon is seen
	valOff, valEnd int     // where the current field's value starts and ends

	cl      int64 // Content-Length, -1 if absent
	rem     int64 // bytes left of the Content-Length body or the chunk
	size    int64 // the chunk size being read
	digits  int   // its hex digits so far
	lineLen int   // bytes of the chunk-size line so far, CRLF excluded
}

// scan scans b[i:], the bytes read since the last call; b[:i] holds the
// unfinished head the last call left, if any. Skipped empty lines are
// removed from b in place. It returns the new length n of b, how many bytes
// from its start may be delivered now, and the outcome. After outMore the
// bytes b[deliver:n] are an unfinished head to hold; after outPending they
// are the client's bytes that came with an upgrade or CONNECT request, not
// scanned: they wait for its response.
func (s *scanner) scan(b []byte, i int) (n, deliver int, out outcome) {
	s.b, s.base, s.gap, s.seg = b, i-s.hb, 0, i
	s.start = -1
	if s.holding() > 0 {
		s.start = s.base
	}
	j := i
	for j < len(b) && out == outMore {
		j, out = s.step(j)
	}
	switch out {
	case outBad:
		s.flush(s.cut)
		n, deliver = s.cut-s.gap, s.cut-s.gap
	case outMore:
		s.hb = len(b) - s.base
		n = s.flush(len(b))
		hold := s.holding()
		deliver = n - hold
		s.m.headSent = hold == 0
	case outPending:
		n = s.flush(len(b))
		deliver = s.cut - s.gap
	default:
		n = s.flush(len(b))
		deliver = n
	}
	s.b = nil
	return n, deliver, out
}

// step scans from b[j] and returns where it stopped.
func (s *scanner) step(j int) (int, outcome) {
	switch {
	case s.st <= sLeadLF:
		return s.idle(j)
	case s.st <= sEndLF:
		return s.head(j)
	case s.st == sBody:
		return s.body(j)
	case s.st <= sExtAfterQuote:
		return s.chunkLine(j)
	}
	return s.chunkData(j)
}

// holding returns how many scanned bytes are an unfinished head, or a
// head followed by the start of its first chunk-size line: a head whose
// body has begun is held until that line is whole, so that a bad line
// refuses the request before any of it reaches the engine (and so the
// upstream). A head that ends a read is delivered at once: its client may
// be waiting for "100 Continue", or have nothing to send yet.
func (s *scanner) holding() int {
	if s.st >= sMethod && s.st <= sEndLF && !s.m.trailer {
		return s.hb
	}
	if s.heldHead() {
		return s.hb
	}
	return 0
}

// heldHead reports whether the held bytes are a whole head and the start
// of its first chunk-size line.
func (s *scanner) heldHead() bool {
	return s.m.firstLine && !s.m.headSent && s.m.lineLen > 0
}

// skip drops b[j] from the output: the bytes since the last skip move down
// over the gap.
func (s *scanner) skip(j int) {
	if s.gap > 0 {
		copy(s.b[s.seg-s.gap:], s.b[s.seg:j])
	}
	s.gap++
	s.seg = j + 1
}

// flush moves the bytes before end down over the gap and returns end
// without the gap.
func (s *scanner) flush(end int) int {
	if s.gap > 0 && end > s.seg {
		copy(s.b[s.seg-s.gap:], s.b[s.seg:end])
	}
	return end - s.gap
}

// idle scans between requests: empty lines, then a request line's start.
func (s *scanner) idle(j int) (int, outcome) {
	c := s.b[j]
	if s.st == sLeadLF {
		if c != '\n' {
			return s.fail(j, 400, "bare_cr")
		}
		s.skip(j)
		s.st = sLine
		return j + 1, outMore
	}
	switch {
	case c == '\r':
		if s.lead == maxLeadingLines {
			return s.fail(j, 400, "leading_empty_lines")
		}
		s.lead++
		s.fresh = false
		s.skip(j)
		s.st = sLeadLF
		return j + 1, outMore
	case c == '\n':
		return s.fail(j, 400, "bare_lf")
	case class[c]&cTok != 0:
		s.m = msg{cl: -1, h2: s.fresh}
		s.fresh = false
		s.base, s.start = j, j
		s.st = sMethod
		return j, outMore
	}
	return s.fail(j, 400, "request_line_invalid")
}

// head scans a head or trailer section until it ends, b ends or a
// violation, one state's run at a time.
func (s *scanner) head(j int) (int, outcome) {
	out := outMore
	for j < len(s.b) && out == outMore && s.st >= sMethod && s.st <= sEndLF {
		if j-s.base >= s.lim.MaxHeaderBytes {
			return s.fail(j, 431, "headers_too_large")
		}
		switch s.st {
		case sMethod:
			j, out = s.method(j)
		case sTarget:
			j, out = s.target(j)
		case sVersion:
			j, out = s.version(j)
		case sLineLF:
			if s.b[j] != '\n' {
				return s.fail(j, 400, "bare_cr")
			}
			s.st = sFieldStart
			j++
		case sPreface:
			j, out = s.preface(j)
		default:
			j, out = s.field(j)
		}
	}
	return j, out
}

// stop returns where a run of head bytes from b must stop: the end of b or
// the head size limit.
func (s *scanner) stop() int {
	return min(len(s.b), s.base+s.lim.MaxHeaderBytes)
}
