package h2guard

import "encoding/binary"

// preface is the HTTP/2 client connection preface (RFC 9113 3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// frameHeaderLen is the size of an HTTP/2 frame header (RFC 9113 4.1).
const frameHeaderLen = 9

// Frame types and the error code the guard uses (RFC 9113 6 and 7).
const (
	frameHeaders        = 0x1
	frameRSTStream      = 0x3
	frameGoAway         = 0x7
	codeEnhanceYourCalm = 0xb
)

// goAwayLen is the size of the GOAWAY frame the guard sends: a header and
// 8 bytes of payload, without debug data.
const goAwayLen = frameHeaderLen + 8

// frames follows the frame boundaries of one direction of an HTTP/2 byte
// stream, across slices split anywhere. It keeps no payload byte.
type frames struct {
	hdr  [frameHeaderLen]byte // the start of a header split across slices
	n    int                  // bytes of hdr filled
	left int                  // payload bytes of the current frame still to come
}

// step consumes the start of p: payload bytes of the current frame, or
// header bytes of the next one, never both. It returns how many bytes it
// consumed and, when they completed a header, that header (in p, or in
// f.hdr when it was split).
func (f *frames) step(p []byte) (int, []byte) {
	if f.left > 0 {
		k := min(f.left, len(p))
		f.left -= k
		return k, nil
	}
	if f.n == 0 && len(p) >= frameHeaderLen {
		h := p[:frameHeaderLen]
		f.left = payloadLen(h)
		return frameHeaderLen, h
	}
	k := copy(f.hdr[f.n:], p)
	f.n += k
	if f.n < frameHeaderLen {
		return k, nil
	}
	f.n = 0
	f.left = payloadLen(f.hdr[:])
	return k, f.hdr[:]
}

// boundary reports whether the bytes consumed so far end a frame.
func (f *frames) boundary() bool { return f.n == 0 && f.left == 0 }

// payloadLen returns the payload length of frame header h.
func payloadLen(h []byte) int { return int(h[0])<<16 | int(h[1])<<8 | int(h[2]) }

// streamID returns the stream id of frame header h, reserved bit cleared.
func streamID(h []byte) uint32 { return binary.BigEndian.Uint32(h[5:9]) &^ (1 << 31) }

// counter counts the streams a client opens and resets, from the frame
// headers of its bytes after the preface. Only Read uses it.
type counter struct {
	f      frames
	pre    int    // bytes of the preface matched while looking for it
	maxID  uint32 // highest stream id the client opened
	opened int    // streams the client opened
	resets int    // RST_STREAM frames the client sent on streams it opened
	min    int
	ratio  float64
}

// newCounter returns a counter applying lim, which has its defaults.
func newCounter(lim Limits) counter {
	return counter{min: lim.MinStreams, ratio: lim.MaxResetRatio}
}

// scan counts the frames of the client bytes p and reports whether the
// rule tripped. It stops at the frame header that tripped it.
func (c *counter) scan(p []byte) bool {
	for len(p) > 0 {
		k, h := c.f.step(p)
		p = p[k:]
		if h != nil && c.frame(h) {
			return true
		}
	}
	return false
}

// frame counts the client frame with header h and reports whether the rule
// trips: at least min streams opened, more than ratio of them reset.
func (c *counter) frame(h []byte) bool {
	id := streamID(h)
	switch {
	case id&1 == 0:
		return false // stream 0 or a server stream
	case h[3] == frameHeaders && id > c.maxID:
		c.maxID = id
		c.opened++
	case h[3] == frameRSTStream && id <= c.maxID:
		c.resets++
	default:
		return false
	}
	return c.opened >= c.min && float64(c.resets) > c.ratio*float64(c.opened)
}

// goAwayFrame returns the GOAWAY frame the guard sends: last stream id
// last, error code ENHANCE_YOUR_CALM, no debug data.
func goAwayFrame(last uint32) [goAwayLen]byte {
	var b [goAwayLen]byte
	b[2] = goAwayLen - frameHeaderLen
	b[3] = frameGoAway
	binary.BigEndian.PutUint32(b[9:13], last)
	binary.BigEndian.PutUint32(b[13:17], codeEnhanceYourCalm)
	return b
}
