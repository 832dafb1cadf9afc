package h1guard

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// The head deadline outlives the engine's moves: net/http interrupts its
// background read with a deadline in the past when a response is done,
// then clears the deadline (or sets a long idle one) and reads on. A
// second head dripped meanwhile must still be cut at HeadTimeout from its
// first byte, not left to the engine's idle limit.
func TestHeadDeadlineSurvivesEngineDeadlines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	const timeout = 300 * time.Millisecond
	g := New(server, Limits{HeadTimeout: timeout}, nil)

	client.Write([]byte(get))
	buf := make([]byte, 4096)
	if n, err := g.Read(buf); n != len(get) || err != nil {
		t.Fatalf("first request: read %d, %v", n, err)
	}
	// The first bytes of the next head arrive while the engine's
	// background read is blocked; the engine then interrupts it.
	start := time.Now()
	client.Write([]byte("GET / HT"))
	read := make(chan error, 1)
	go func() { _, err := g.Read(buf); read <- err }()
	time.Sleep(50 * time.Millisecond) // let the read take the bytes and block
	g.SetReadDeadline(time.Unix(1, 0))
	if err := <-read; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("interrupted read: %v, want a deadline error", err)
	}
	g.SetReadDeadline(time.Time{})
	g.SetReadDeadline(time.Now().Add(time.Minute)) // an idle limit
	n, err := g.Read(buf)
	took := time.Since(start)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d, %v; want the head deadline", n, err)
	}
	if took < timeout-50*time.Millisecond || took > 10*timeout {
		t.Errorf("head cut after %v, want about %v from its first byte", took, timeout)
	}
}
