package relay

import (
	"bytes"
	"net"
	"runtime"
	"testing"
	"time"
)

// wsFrame is an unmasked server frame with payload p.
func wsFrame(opcode byte, p []byte) []byte {
	f := []byte{0x80 | opcode}
	switch n := len(p); {
	case n < 126:
		f = append(f, byte(n))
	case n < 1<<16:
		f = append(f, 126, byte(n>>8), byte(n))
	default:
		f = append(f, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(f, p...)
}

// recordConn is a net.Conn that keeps what is written to it.
type recordConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error)      { return c.buf.Write(p) }
func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

// The close frame a shutdown sends never lands inside a relayed frame,
// however the upstream's bytes arrive; relaying stops after it.
func TestWSRelayClosesBetweenFrames(t *testing.T) {
	stream := append(append(wsFrame(0x1, []byte("hello")), wsFrame(0x2, bytes.Repeat([]byte{7}, 300))...),
		wsFrame(0x2, bytes.Repeat([]byte{9}, 70000))...)
	frames := []int{7, 7 + 304, len(stream)} // where each frame ends
	for split := 1; split < len(stream); split += 997 {
		rc := &recordConn{}
		r := NewWSRelay(rc)
		r.relay(stream[:split])
		done := make(chan struct{})
		go func() { r.GoAway(); close(done) }()
		for !r.pendingOrSent() {
			runtime.Gosched()
		}
		r.relay(stream[split:])
		<-done
		out := rc.buf.Bytes()
		if !bytes.HasSuffix(out, closeGoingAway) {
			t.Fatalf("split %d: no close frame at the end (%d bytes out)", split, len(out))
		}
		relayed := len(out) - len(closeGoingAway)
		if !bytes.Equal(out[:relayed], stream[:relayed]) {
			t.Fatalf("split %d: the relayed bytes differ from the upstream's", split)
		}
		ok := false
		for _, end := range frames {
			ok = ok || (relayed == end && end >= split)
		}
		if !ok {
			t.Fatalf("split %d: the close frame follows byte %d, which ends no frame (frames end at %v)", split, relayed, frames)
		}
	}
}

// pendingOrSent reports whether goAway has asked for, or sent, the close.
func (r *WSRelay) pendingOrSent() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending || r.goaway
}
