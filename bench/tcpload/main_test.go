package main

import (
	"net"
	"testing"
	"time"
)

// The upstream echoes, counts a SINK transfer up to the client's
// half-close, and check passes through it.
func TestUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveListener(ln)
	addr := ln.Addr().String()

	msg := []byte("ECHO-0123456789")
	if err := echoOnce(addr, msg, make([]byte, len(msg)), 2*time.Second); err != nil {
		t.Fatalf("echo: %v", err)
	}
	const n = 3<<20 + 7
	got, err := sinkOnce(addr, n, make([]byte, 64<<10), time.Now().Add(5*time.Second))
	if err != nil || got != n {
		t.Fatalf("sink: %d, %v; want %d", got, err, n)
	}
	if err := check(addr); err != nil {
		t.Fatal(err)
	}
}
