package gateway

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// openTunnels is how many forwarded connections the gateway tracks.
func (g *gw) openTunnels() int { return g.srv.pipe.Tunnels() }

// waitTunnelsClosed fails unless the gateway lets go of every forwarded
// connection within 2 s.
func (g *gw) waitTunnelsClosed(t *testing.T) {
	t.Helper()
	for end := time.Now().Add(2 * time.Second); g.openTunnels() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d forwarded connections still held 2s after both sides ended", g.openTunnels())
		}
	}
}

// security.md UP-07: raw TCP half-close and teardown. The client writes
// "ping" and half-closes; the upstream reads to EOF, waits 100 ms, writes
// "pong" and closes: the client reads pong, then EOF. A 32 MiB transfer
// keeps its half-closes too. An upstream that resets, and a client that
// resets, end the other side within a second. Nothing moving for the
// DestinationRule's tcp.idleTimeout (1 s) closes both sides. After each,
// the gateway holds no forwarded connection. (maxConnectionDuration is
// TestUP07MaxConnectionDuration.)
func TestUP07RawTCPHalfCloseAndTeardown(t *testing.T) {
	t.Parallel()
	t.Run("half-close", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, tcpConfig(rawUpstream(t, func(c net.Conn) {
			defer c.Close()
			if b, err := io.ReadAll(c); err != nil || string(b) != "ping" {
				return
			}
			<-time.After(100 * time.Millisecond)
			io.WriteString(c, "pong")
		})))
		c := g.dial(9000)
		io.WriteString(c, "ping")
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if b, err := io.ReadAll(c); err != nil || string(b) != "pong" {
			t.Errorf("read %q, %v; want pong then EOF", b, err)
		}
		g.waitTunnelsClosed(t)
	})

	t.Run("32 MiB both ways", func(t *testing.T) {
		t.Parallel()
		const size = 32 << 20
		g := startGW(t, tcpConfig(rawUpstream(t, func(c net.Conn) {
			defer c.Close()
			h := sha256.New()
			io.Copy(h, c) // until the client's half-close
			fmt.Fprintf(c, "%x\n", h.Sum(nil))
			io.CopyN(c, zeroes{}, size)
		})))
		c := g.dial(9000)
		data := make([]byte, size)
		rand.Read(data)
		go func() {
			c.Write(data)
			c.(*net.TCPConn).CloseWrite()
		}()
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if want := fmt.Sprintf("%x\n", sha256.Sum256(data)); err != nil || line != want {
			t.Fatalf("upstream digest %q, %v; want %q", line, err, want)
		}
		if n, err := io.Copy(io.Discard, br); err != nil || n != size {
			t.Errorf("read back %d bytes, %v; want %d then EOF", n, err, size)
		}
		g.waitTunnelsClosed(t)
	})

	t.Run("upstream resets", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, tcpConfig(rawUpstream(t, func(c net.Conn) {
			c.Read(make([]byte, 4))
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		})))
		c := g.dial(9000)
		io.WriteString(c, "ping")
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || time.Since(start) > time.Second {
			t.Errorf("client read %d bytes, %v after %v; want the connection ended within 1s", n, err, time.Since(start))
		}
		g.waitTunnelsClosed(t)
	})

	t.Run("client resets", func(t *testing.T) {
		t.Parallel()
		ended := make(chan time.Time, 1)
		g := startGW(t, tcpConfig(rawUpstream(t, func(c net.Conn) {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c)
			ended <- time.Now()
		})))
		c := g.dial(9000)
		io.WriteString(c, "ping")
		c.(*net.TCPConn).SetLinger(0)
		start := time.Now()
		c.Close()
		if at := <-ended; at.Sub(start) > time.Second {
			t.Errorf("the upstream side ended %v after the client's reset, want within 1s", at.Sub(start))
		}
		g.waitTunnelsClosed(t)
	})

	t.Run("idle timeout", func(t *testing.T) {
		t.Parallel()
		closed := make(chan struct{})
		cfg := tcpConfig(rawUpstream(t, func(c net.Conn) {
			io.Copy(io.Discard, c)
			close(closed)
		}))
		cfg["dr.yaml"] = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: up}\nspec:\n  host: 127.0.0.1\n  trafficPolicy:\n    connectionPool: {tcp: {idleTimeout: 1s}}\n"
		g := startGW(t, cfg)
		c := g.dial(9000)
		io.WriteString(c, "hello")
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("read: %v, want EOF when the idle timeout closes the connection", err)
		}
		if took := time.Since(start); took < 900*time.Millisecond || took > 3*time.Second {
			t.Errorf("closed after %v, want about 1s", took)
		}
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			t.Error("the upstream side stayed open")
		}
		g.waitTunnelsClosed(t)
	})
}

// security.md UP-07 (maximum duration): a forwarded TCP connection is
// closed at the DestinationRule's connectionPool.tcp.maxConnectionDuration
// however busy it is.
func TestUP07MaxConnectionDuration(t *testing.T) {
	t.Parallel()
	cfg := tcpConfig(rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		io.Copy(c, c)
	}))
	cfg["dr.yaml"] = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: up}\nspec:\n  host: 127.0.0.1\n  trafficPolicy:\n    connectionPool: {tcp: {maxConnectionDuration: 1s}}\n"
	g := startGW(t, cfg)
	c := g.dial(9000)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(4 * time.Second))
	buf := make([]byte, 4)
	for {
		io.WriteString(c, "busy") // never idle
		if _, err := io.ReadFull(c, buf); err != nil {
			if took := time.Since(start); took < 900*time.Millisecond || took > 3*time.Second {
				t.Errorf("closed after %v (%v), want at about 1s", took, err)
			}
			return
		}
	}
}
