// Command tcpload is the load generator and the upstream of bench/peers.sh's
// TCP scenario. Standard library only.
//
//	tcpload serve ADDR
//	tcpload conns [-c 50] [-d 6s] [-size 16] [-timeout 5s] ADDR
//	tcpload bulk  [-c 1] [-bytes 2GiB] [-max 30s] ADDR
//	tcpload check ADDR
//
// serve is the upstream: a connection that starts with "SINK" is read to
// its end (the client's half-close), then answered with the number of
// bytes that followed "SINK" as a decimal line, then closed; any other
// connection is echoed back until the client's half-close.
//
// conns measures new connections per second: each of -c clients, until -d
// has passed, dials, sends -size bytes, reads them echoed back, closes. The
// latency is connect + echo.
//
// bulk measures throughput: -c connections share -bytes, each sends its
// part after "SINK", half-closes and waits for the upstream's count, which
// must equal what it sent. A connection that is still sending at -max
// stops there, so the run is bounded in time too. The rate is counted
// bytes (acknowledged by the upstream) per second, MB = 10^6 bytes.
//
// check does one echo and one 1 MiB sink transfer, for readiness, and
// exits 1 if either fails.
//
// Every command that measures ends with a line peers.sh parses:
//
//	result rate=... p50_ms=... p99_ms=... errors=... ops=...
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/bench/internal/load"
)

const sinkMagic = "SINK"

func main() {
	log.SetFlags(0)
	log.SetPrefix("tcpload: ")
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	switch cmd {
	case "serve":
		fs.Parse(args)
		serve(arg(fs))
	case "conns":
		c := fs.Int("c", 50, "parallel clients")
		d := fs.Duration("d", 6*time.Second, "duration")
		size := fs.Int("size", 16, "bytes sent and echoed per connection (>= 4)")
		timeout := fs.Duration("timeout", 5*time.Second, "per-connection timeout")
		fs.Parse(args)
		conns(arg(fs), *c, *d, max(*size, 4), *timeout)
	case "bulk":
		c := fs.Int("c", 1, "connections")
		size := fs.String("bytes", "2GiB", "bytes to send in total")
		maxd := fs.Duration("max", 30*time.Second, "stop sending after this long")
		fs.Parse(args)
		n, err := load.ParseSize(*size)
		if err != nil {
			log.Fatal(err)
		}
		bulk(arg(fs), *c, n, *maxd)
	case "check":
		fs.Parse(args)
		if err := check(arg(fs)); err != nil {
			log.Fatal(err)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: tcpload serve|conns|bulk|check [flags] ADDR")
	os.Exit(2)
}

func arg(fs *flag.FlagSet) string {
	if fs.NArg() != 1 {
		usage()
	}
	return fs.Arg(0)
}

// ---- upstream

var smallBufs = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}

func serve(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	serveListener(ln)
}

// serveListener serves upstream connections from ln until it is closed.
func serveListener(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Print(err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go upstream(c)
	}
}

func upstream(c net.Conn) {
	defer c.Close()
	bp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bp)
	buf := *bp
	if _, err := io.ReadFull(c, buf[:len(sinkMagic)]); err != nil {
		return
	}
	if string(buf[:len(sinkMagic)]) == sinkMagic {
		big := make([]byte, 1<<20)
		var n int64
		for {
			k, err := c.Read(big)
			n += int64(k)
			if err != nil {
				if err == io.EOF {
					fmt.Fprintf(c, "%d\n", n)
				}
				return
			}
		}
	}
	if _, err := c.Write(buf[:len(sinkMagic)]); err != nil {
		return
	}
	for {
		k, err := c.Read(buf)
		if k > 0 {
			if _, werr := c.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// ---- new connections per second

var dialer = &net.Dialer{KeepAlive: -1}

func conns(addr string, clients int, d time.Duration, size int, timeout time.Duration) {
	msgs := make([][]byte, clients)
	bufs := make([][]byte, clients)
	for i := range msgs {
		msgs[i] = []byte(fmt.Sprintf("ECHO%0*d", size-4, i))[:size]
		bufs[i] = make([]byte, size)
	}
	r := load.Run(clients, d, func(w int) error {
		return echoOnce(addr, msgs[w], bufs[w], timeout)
	})
	fmt.Printf("tcpload conns: %s, %d clients, %d-byte echo per connection\n", addr, clients, size)
	r.Report(os.Stdout, "connections")
}

// echoOnce dials, sends msg, reads it back into buf and closes.
func echoOnce(addr string, msg, buf []byte, timeout time.Duration) error {
	c, err := dialer.Dial("tcp", addr)
	if err != nil {
		return load.Stage("dial", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(msg); err != nil {
		return load.Stage("write", err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return load.Stage("read", err)
	}
	if !bytes.Equal(buf, msg) {
		return load.Stage("read", fmt.Errorf("echo mismatch: sent %q, got %q", msg, buf))
	}
	return nil
}

// ---- bulk throughput

func bulk(addr string, clients int, total int64, maxd time.Duration) {
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	per := total / int64(clients)
	var acked atomic.Int64
	var mu sync.Mutex
	errs := map[string]int64{}
	samples := map[string]string{}
	start := time.Now()
	stop := start.Add(maxd)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			n, err := sinkOnce(addr, per, chunk, stop)
			acked.Add(n)
			if err != nil {
				k := load.Kind(err)
				mu.Lock()
				errs[k]++
				if _, ok := samples[k]; !ok {
					samples[k] = err.Error()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	n := acked.Load()
	var nerr int64
	for _, v := range errs {
		nerr += v
	}
	mbps := float64(n) / el.Seconds() / 1e6
	fmt.Printf("tcpload bulk: %s, %d connection(s), %d of %d bytes acknowledged in %s: %.1f MB/s (%.2f Gbit/s), %d errors\n",
		addr, clients, n, total, el.Round(time.Millisecond), mbps, mbps*8/1000, nerr)
	if n < total && nerr == 0 {
		fmt.Printf("  stopped at -max %s before all bytes were sent\n", maxd)
	}
	for k, v := range errs {
		fmt.Printf("  error %-28s %8d  e.g. %s\n", k, v, samples[k])
	}
	fmt.Printf("result rate=%.1f p50_ms=0 p99_ms=0 errors=%d ops=%d\n", mbps, nerr, clients)
}

// sinkOnce sends "SINK" and up to n bytes (stopping at stop), half-closes,
// and returns the count the upstream acknowledges.
func sinkOnce(addr string, n int64, chunk []byte, stop time.Time) (int64, error) {
	c, err := dialer.Dial("tcp", addr)
	if err != nil {
		return 0, load.Stage("dial", err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, sinkMagic); err != nil {
		return 0, load.Stage("write", err)
	}
	var sent int64
	for sent < n && time.Now().Before(stop) {
		b := chunk[:min(int64(len(chunk)), n-sent)]
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		k, err := c.Write(b)
		sent += int64(k)
		if err != nil {
			return 0, load.Stage("write", err)
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, load.Stage("close-write", err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, load.Stage("ack", err)
	}
	got, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil || got != sent {
		return 0, load.Stage("ack", fmt.Errorf("upstream counted %q, sent %d", strings.TrimSpace(line), sent))
	}
	return got, nil
}

// ---- readiness

func check(addr string) error {
	msg := []byte("ECHO-check-0123")
	if err := echoOnce(addr, msg, make([]byte, len(msg)), 2*time.Second); err != nil {
		return fmt.Errorf("echo through %s: %w", addr, err)
	}
	chunk := make([]byte, 64<<10)
	n, err := sinkOnce(addr, 1<<20, chunk, time.Now().Add(2*time.Second))
	if err == nil && n != 1<<20 {
		err = fmt.Errorf("only %d bytes of 1 MiB in 2 s", n)
	}
	if err != nil {
		return fmt.Errorf("sink through %s: %w", addr, err)
	}
	return nil
}
