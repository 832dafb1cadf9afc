package relay

import (
	"io"
	"net"
	"sync"
	"time"
)

// WSRelay copies a WebSocket upstream's frames to the client, keeping
// track of where each frame ends, so that at shutdown the tunnel can end
// with a close frame (1001 "going away") between two frames rather than a
// bare TCP close (security.md UP-09). It parses frame headers only; payloads
// are copied as they come.
type WSRelay struct {
	client net.Conn
	mu     sync.Mutex // orders relayed writes against the close frame
	hdr    [14]byte   // a frame header being read, up to its full length
	nhdr   int        // bytes of hdr seen
	left   uint64     // payload bytes of the current frame still to come
	// pending asks for the close frame at the next frame boundary;
	// goaway says it was sent: relay nothing more.
	pending, goaway bool
	sent            chan struct{} // closed once the close frame went out
}

func NewWSRelay(client net.Conn) *WSRelay {
	return &WSRelay{client: client, sent: make(chan struct{})}
}

// closeGoingAway is an unmasked close frame (server to client) with status
// code 1001, going away.
var closeGoingAway = []byte{0x88, 0x02, 0x03, 0xe9}

// CopyFrom relays src (the upstream) to the client until src ends.
func (r *WSRelay) CopyFrom(src io.Reader) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 && !r.relay(buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// relay writes b to the client, split so that the close frame, once
// asked for, can follow the frame in progress; it reports whether the
// relay goes on.
func (r *WSRelay) relay(b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(b) > 0 {
		if r.goaway {
			return false
		}
		n := r.frameBytes(b)
		if _, err := r.client.Write(b[:n]); err != nil {
			return false
		}
		b = b[n:]
		if r.pending && r.atBoundary() {
			r.sendClose()
			return false
		}
	}
	return true
}

func (r *WSRelay) atBoundary() bool { return r.nhdr == 0 && r.left == 0 }

// sendClose writes the close frame; r.mu is held.
func (r *WSRelay) sendClose() {
	r.goaway = true
	r.client.SetWriteDeadline(time.Now().Add(time.Second))
	r.client.Write(closeGoingAway)
	close(r.sent)
}

// frameBytes advances the frame parser over the head of b and returns how
// many bytes of b belong to the frame in progress (its header or payload).
func (r *WSRelay) frameBytes(b []byte) int {
	if r.left > 0 {
		n := uint64(len(b))
		if n > r.left {
			n = r.left
		}
		r.left -= n
		return int(n)
	}
	i := 0
	for i < len(b) {
		r.hdr[r.nhdr] = b[i]
		r.nhdr++
		i++
		if need := wsHeaderLen(r.hdr[:r.nhdr]); r.nhdr == need {
			r.left = wsPayloadLen(r.hdr[:need])
			r.nhdr = 0
			return i
		}
	}
	return i
}

// wsHeaderLen is the full length of a frame header from its first bytes
// (14 until the second byte is known).
func wsHeaderLen(h []byte) int {
	if len(h) < 2 {
		return 14
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4 // masked: a key
	}
	return n
}

func wsPayloadLen(h []byte) uint64 {
	switch l := uint64(h[1] & 0x7f); l {
	case 126:
		return uint64(h[2])<<8 | uint64(h[3])
	case 127:
		var v uint64
		for _, c := range h[2:10] {
			v = v<<8 | uint64(c)
		}
		return v
	default:
		return l
	}
}

// GoAway ends the tunnel for a shutdown: a close frame with 1001 at once
// if no frame is half relayed, else as soon as the one in progress is
// done (waiting at most a second; then the connection just closes).
func (r *WSRelay) GoAway() {
	r.mu.Lock()
	switch {
	case r.goaway:
	case r.atBoundary():
		r.sendClose()
	default:
		r.pending = true
	}
	r.mu.Unlock()
	select {
	case <-r.sent:
	case <-time.After(time.Second):
	}
}

// WSTunnel is a WebSocket tunnel as the shutdown tracker closes it.
type WSTunnel struct {
	conn  net.Conn
	relay *WSRelay
}

// NewWSTunnel returns the tunnel of a WebSocket client connection whose
// upstream frames relay copies.
func NewWSTunnel(conn net.Conn, relay *WSRelay) *WSTunnel {
	return &WSTunnel{conn: conn, relay: relay}
}

// Close sends the client the close frame, then closes its connection.
func (t *WSTunnel) Close() error {
	t.relay.GoAway()
	return t.conn.Close()
}
