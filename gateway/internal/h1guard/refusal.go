package h1guard

import "strconv"

// reasonEarly is the reason for refusing client bytes sent before the
// response to an upgrade or CONNECT request: more than the guard holds.
const reasonEarly = "data_before_upgrade_response"

// maxLogField bounds each of Refusal's Method, Target and Proto.
const maxLogField = 256

// fail records a violation at b[at] and stops the scan. A violation in a
// head cuts the deliverable bytes before the head; one in a body cuts them
// at the violation, or before the head when it has not been delivered.
func (s *scanner) fail(at, status int, reason string) (int, outcome) {
	r := &Refusal{Status: status, Reason: reason}
	s.cut = at
	switch {
	case s.st >= sBody || (s.st >= sFieldStart && s.m.trailer):
		r.InBody = true
		s.line.fill(r)
		if s.start >= 0 {
			// The head is still here, undelivered: the request is
			// refused whole, as a bad head would be.
			s.cut, r.HeadHeld = s.start, true
		}
	case s.st >= sMethod:
		s.cut = s.base
		fillLine(r, s.b[s.base:at])
	}
	s.ref = r
	return at, outBad
}

// early returns the refusal of more bytes than Limits.MaxHeaderBytes
// before the response to an upgrade or CONNECT request, naming that
// request.
func (s *scanner) early() *Refusal {
	r := &Refusal{Status: 400, Reason: reasonEarly}
	s.line.fill(r)
	return r
}

// fillLine sets r's Method, Target and Proto from the start of a request
// line, as far as it goes.
func fillLine(r *Refusal, line []byte) {
	field := func() string {
		i := 0
		for i < len(line) && line[i] != ' ' && line[i] != '\r' && line[i] != '\n' {
			i++
		}
		f := line[:min(i, maxLogField)]
		if i < len(line) && line[i] == ' ' {
			i++
		} else {
			i = len(line) // the line ends here: no more fields
		}
		line = line[i:]
		return string(f)
	}
	r.Method = field()
	r.Target = field()
	r.Proto = field()
}

// savedLine keeps the request line of a request whose body (or upgrade) is
// still to come, for the refusal of a violation there: by then the head has
// been delivered and its bytes are gone.
type savedLine struct {
	buf              [2*maxLogField + 8]byte
	mlen, tlen, plen int
}

// save copies the request line at the start of head, whose method and
// target have lengths mlen and tlen, truncating them.
func (l *savedLine) save(head []byte, mlen, tlen int) {
	l.mlen = copy(l.buf[:maxLogField], head[:mlen])
	t := head[mlen+1:]
	l.tlen = copy(l.buf[l.mlen:l.mlen+maxLogField], t[:tlen])
	l.plen = copy(l.buf[l.mlen+l.tlen:], t[tlen+1:tlen+9])
}

// fill sets r's Method, Target and Proto from the saved line.
func (l *savedLine) fill(r *Refusal) {
	r.Method = string(l.buf[:l.mlen])
	r.Target = string(l.buf[l.mlen : l.mlen+l.tlen])
	r.Proto = string(l.buf[l.mlen+l.tlen : l.mlen+l.tlen+l.plen])
}

// responses holds the refusal written for each status.
var responses = map[int][]byte{
	400: response(400, "Bad Request"),
	414: response(414, "URI Too Long"),
	431: response(431, "Request Header Fields Too Large"),
	501: response(501, "Not Implemented"),
	505: response(505, "HTTP Version Not Supported"),
}

// response builds the refusal for status, whose body is its reason phrase.
func response(status int, phrase string) []byte {
	code := strconv.Itoa(status)
	return []byte("HTTP/1.1 " + code + " " + phrase + "\r\n" +
		"content-type: text/plain\r\n" +
		"content-length: " + strconv.Itoa(len(phrase)) + "\r\n" +
		"connection: close\r\n\r\n" + phrase)
}
