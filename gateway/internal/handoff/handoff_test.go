package handoff

import (
	"errors"
	"net"
	"testing"
)

// A delivered connection is the next one accepted; after Close, Accept and
// Deliver both stop.
func TestHandoff(t *testing.T) {
	t.Parallel()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}
	l := New(addr)
	if l.Addr() != addr {
		t.Errorf("Addr = %v, want %v", l.Addr(), addr)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	delivered := make(chan bool)
	go func() { delivered <- l.Deliver(a) }()
	c, err := l.Accept()
	if err != nil || c != a {
		t.Fatalf("Accept = %v, %v; want the delivered conn", c, err)
	}
	if !<-delivered {
		t.Error("Deliver reported false for an accepted conn")
	}
	l.Close()
	l.Close() // twice is fine
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if l.Deliver(b) {
		t.Error("Deliver after Close reported true")
	}
}
