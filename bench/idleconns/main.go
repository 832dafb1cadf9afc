// Command idleconns opens many keep-alive client connections to an HTTP
// server, sends one request on each, reads the answer, and then keeps
// them all open and idle: bench/peers.sh's idle-connections scenario
// (target 6 of shared/docs/performance.md).
//
//	idleconns -n 10000 -host h049.bench.test -path /r9/hello [-H 'Name: value']... [-hold 10s] 127.0.0.1:PORT
//
// Once every connection has had its answer it prints
//
//	open n=N failed=F took=...
//
// and holds them for -hold, while peers.sh reads the server's resident
// memory. Each connection has a reader waiting for the server to close it;
// at the end it prints
//
//	result open=N closed_by_server=C failed=F
//
// and exits 1 if any connection failed or was closed. Dials go at most
// -parallel at a time, so the server's accept backlog is not the test.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	n := flag.Int("n", 10000, "connections")
	host := flag.String("host", "localhost", "Host header")
	path := flag.String("path", "/", "request path")
	hold := flag.Duration("hold", 10*time.Second, "how long to keep the connections open once all are")
	parallel := flag.Int("parallel", 200, "dials in flight at most")
	var hdrs headers
	flag.Var(&hdrs, "H", "extra request header 'Name: value' (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	addr := flag.Arg(0)
	raiseNoFile(uint64(*n) + 1024)

	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: idleconns\r\n", *path, *host)
	for _, h := range hdrs {
		fmt.Fprintf(&req, "%s\r\n", h)
	}
	req.WriteString("\r\n")
	request := []byte(req.String())

	var (
		failed   atomic.Int64
		closed   atomic.Int64
		mu       sync.Mutex
		errKinds = map[string]int{}
		conns    = make([]net.Conn, 0, *n)
		wg       sync.WaitGroup
		sem      = make(chan struct{}, *parallel)
	)
	fails := func(kind string, err error) {
		failed.Add(1)
		mu.Lock()
		if errKinds[kind] == 0 {
			fmt.Fprintf(os.Stderr, "idleconns: %s: %v\n", kind, err)
		}
		errKinds[kind]++
		mu.Unlock()
	}
	start := time.Now()
	for range *n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				fails("dial", err)
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(request); err != nil {
				c.Close()
				fails("write", err)
				return
			}
			br := bufio.NewReaderSize(c, 1024)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				c.Close()
				fails("read", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Close {
				c.Close()
				fails(fmt.Sprintf("status %d close=%v", resp.StatusCode, resp.Close), fmt.Errorf("want 200, kept alive"))
				return
			}
			c.SetDeadline(time.Time{})
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			// The server must not close an idle keep-alive connection
			// within the hold; a read returning means it did.
			go func() {
				var b [1]byte
				if _, err := br.Read(b[:]); err != nil && !isLocalClose(err) {
					closed.Add(1)
				}
			}()
		}()
	}
	wg.Wait()
	fmt.Printf("open n=%d failed=%d took=%v\n", len(conns), failed.Load(), time.Since(start).Round(time.Millisecond))

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-time.After(*hold):
	case <-sigs:
	}
	open := len(conns) - int(closed.Load())
	fmt.Printf("result open=%d closed_by_server=%d failed=%d\n", open, closed.Load(), failed.Load())
	for _, c := range conns {
		c.Close()
	}
	if failed.Load() > 0 || closed.Load() > 0 {
		os.Exit(1)
	}
}

// isLocalClose reports whether err comes from closing the connection here.
func isLocalClose(err error) bool { return errors.Is(err, net.ErrClosed) }

// raiseNoFile raises the soft open-files limit to want (Go already raises
// it to the hard limit at start; this says so when that is too low).
func raiseNoFile(want uint64) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return
	}
	if r.Cur >= want {
		return
	}
	r.Cur = min(want, r.Max)
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	if r.Cur < want {
		fmt.Fprintf(os.Stderr, "idleconns: open files limited to %d (want %d): raise ulimit -n\n", r.Cur, want)
	}
}
