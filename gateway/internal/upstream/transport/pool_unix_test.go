//go:build unix

package transport

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// An idle connection is probed before reuse once it has sat idle for
// probeIdleAfter: one the upstream closed, or on which it sent bytes no
// request asked for, is closed and replaced. The upstream here is a Unix
// socket (an endpoint address unix:///path), whose close the other end
// sees at once, so the probe's result does not depend on timing.
func TestPoolDropsConnectionsTheUpstreamClosed(t *testing.T) {
	tests := []struct {
		name     string
		upstream func(c net.Conn) // done to the upstream's end of the idle connection
		idle     time.Duration
		reused   bool
	}{
		{"left open", func(net.Conn) {}, time.Second, true},
		{"closed by the upstream", func(c net.Conn) { c.Close() }, time.Second, false},
		{"unasked bytes", func(c net.Conn) { c.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n")) }, time.Second, false},
		// Not probed yet: the engine replaces it if the request finds it
		// closed (TestPoolStaleConnection).
		{"closed, idle too briefly to be probed", func(c net.Conn) { c.Close() }, probeIdleAfter / 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "gatehouse")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			path := filepath.Join(dir, "up.sock")
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			accepted := make(chan net.Conn, 2)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					t.Cleanup(func() { c.Close() })
					accepted <- c
				}
			}()
			s := NewPoolSet((&net.Dialer{}).DialContext)
			t.Cleanup(s.CloseAll)
			p := s.Get(PoolKey{Addr: "unix://" + path}, PoolOptions{})

			pc := mustGet(t, p, false)
			up := <-accepted
			p.put(pc)
			pc.idleAt = time.Now().Add(-tt.idle)
			tt.upstream(up)
			got := mustGet(t, p, false)
			if reused := got == pc; reused != tt.reused {
				t.Fatalf("reused = %v, want %v", reused, tt.reused)
			}
			if !tt.reused {
				<-accepted // the replacement
				if !pc.closed.Load() || p.open.Load() != 1 {
					t.Errorf("the dropped connection: closed %v; %d open, want 1", pc.closed.Load(), p.open.Load())
				}
			}
		})
	}
}
