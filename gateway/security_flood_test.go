package gateway

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
)

// The tests in this file measure the whole process (goroutines, file
// descriptors, heap), so they do not run in parallel with others.

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting file descriptors: %v", err)
	}
	return len(ents)
}

// resources is what a flood of connections may leave behind.
type resources struct{ goroutines, fds int }

func measure(t *testing.T) resources {
	return resources{runtime.NumGoroutine(), openFDs(t)}
}

// waitBaseline polls until goroutines and file descriptors are back within
// slack of base, failing after deadline.
func waitBaseline(t *testing.T, base resources, slack int, deadline time.Duration) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		now := measure(t)
		if now.goroutines <= base.goroutines+slack && now.fds <= base.fds+slack {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after %v: %d goroutines and %d fds, baseline %d and %d (slack %d)",
				deadline, now.goroutines, now.fds, base.goroutines, base.fds, slack)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// closedWithin reads from c until it closes and reports how long that took
// from start; it returns -1 if c sent bytes or stayed open past limit.
func closedWithin(c net.Conn, start time.Time, limit time.Duration) time.Duration {
	c.SetReadDeadline(start.Add(limit))
	n, _ := io.Copy(io.Discard, c)
	took := time.Since(start)
	if n > 0 || took >= limit {
		return -1
	}
	return took
}

// security.md PP-05: header never completes (slowloris on header
// detection). 2 000 connections from the trusted peer send "PROX" and
// stall, or send nothing, under a 1 s gatehouse.io/proxy-protocol-timeout.
// Each is closed at the timeout with no response, counted as timeout;
// another client is served while they stall; goroutines and file
// descriptors return to the baseline afterwards. The gateway has no
// separate connection cap for this (security.md UP-08's limiter), so none
// is asserted here.
func TestPP05StalledHeaders(t *testing.T) {
	const n, timeout = 2000, time.Second
	g := startGW(t, proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1", gatehouse.io/proxy-protocol-timeout: 1s`))
	addr := g.srv.Addr(80).String()
	hdr := []byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n" + get("a"))
	if out, _ := rawExchange(t, addr, "", hdr); bodyOf(t, out) != "200 203.0.113.7" {
		t.Fatalf("warm-up: %q", out)
	}
	base := measure(t)

	type result struct {
		took    time.Duration
		dialErr error
	}
	results := make(chan result, n)
	conns := make([]net.Conn, 0, n)
	for i := range n {
		start := time.Now() // before the gateway can have accepted it
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			results <- result{dialErr: err}
			continue
		}
		conns = append(conns, c)
		if i%2 == 0 {
			c.Write([]byte("PROX"))
		}
		go func() { results <- result{took: closedWithin(c, start, timeout+5*time.Second)} }()
	}
	// Another client is served while the flood stalls.
	start := time.Now()
	if out, _ := rawExchange(t, addr, "", hdr); bodyOf(t, out) != "200 203.0.113.7" || time.Since(start) > 2*time.Second {
		t.Errorf("a client during the flood: %q after %v", out, time.Since(start))
	}
	var early, late, dialErrs int
	for range n {
		switch r := <-results; {
		case r.dialErr != nil:
			dialErrs++
		case r.took < 0:
			late++
		case r.took < timeout:
			early++
		}
	}
	for _, c := range conns {
		c.Close()
	}
	if dialErrs+late+early > 0 {
		t.Errorf("of %d stalled connections: %d failed to dial, %d were not closed (or answered) within the timeout plus 5s, %d closed before it",
			n, dialErrs, late, early)
	}
	waitRefused(t, g, listener.ProxyTimeout, n)
	waitBaseline(t, base, 20, 10*time.Second)
}

// ppV2Oversized is a PROXY v2 header for TCP over IPv4 declaring the
// largest length the format allows, 0xFFFF, and carrying that many bytes:
// the address block and a NOOP TLV padding it out.
func ppV2Oversized() []byte {
	var b bytes.Buffer
	b.Write(hexBytes("0D0A0D0A000D0A515549540A 21 11 FFFF 7F000001 7F000001 002A 0539"))
	pad := 0xFFFF - 12 - 3
	b.WriteByte(0x04) // PP2_TYPE_NOOP
	binary.Write(&b, binary.BigEndian, uint16(pad))
	b.Write(bytes.Repeat([]byte{0}, pad))
	return b.Bytes()
}

// security.md PP-06: oversized headers. A v1 header longer than 107
// bytes (100 000 digits, no CRLF) and a v2 header declaring 0xFFFF bytes
// of TLVs (more than go-proxyproto's MaxV2HeaderSize, 4096) are closed
// within a second with no response, as malformed; after 40 of them the
// heap has grown by less than 1 MiB.
func TestPP06OversizedHeaders(t *testing.T) {
	g := startGW(t, proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1", gatehouse.io/proxy-protocol-timeout: 3s`))
	addr := g.srv.Addr(80).String()
	v1 := []byte("PROXY TCP4 " + strings.Repeat("1", 100000))
	v2 := ppV2Oversized()
	if len(v2) != 16+0xFFFF {
		t.Fatalf("v2 header is %d bytes", len(v2))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const rounds = 20
	for range rounds {
		for name, data := range map[string][]byte{"v1": v1, "v2": v2} {
			out, took := rawExchange(t, addr, "", data)
			if out != "" || took > time.Second {
				t.Fatalf("oversized %s header: got %q after %v, want closed within 1s", name, out, took)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew >= 1<<20 {
		t.Errorf("heap grew by %d bytes over %d oversized headers, want < 1 MiB", grew, 2*rounds)
	}
	waitRefused(t, g, listener.ProxyMalformed, 2*rounds)
}
