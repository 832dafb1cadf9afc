//go:build linux

package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fdLimit is the child's RLIMIT_NOFILE: low enough to exhaust quickly.
const fdLimit = 64

// fdExhaustionChild runs a gateway with at most fdLimit open files, prints
// "ports DATA ADMIN" and serves until its standard input closes.
func fdExhaustionChild() int {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 3
	}
	go http.Serve(up, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	dir, err := os.MkdirTemp("", "fdexhaustion")
	if err != nil {
		return 3
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(httpGateway+"---\n"+vsTo(uint32(up.Addr().(*net.TCPAddr).Port))), 0o644)
	lim := syscall.Rlimit{Cur: fdLimit, Max: fdLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 4
	}
	srv, err := New(Options{ConfigPaths: []string{dir}, AdminAddr: "127.0.0.1:0", DrainDelay: new(time.Duration),
		ListenAddr: func(string, uint32) string { return "127.0.0.1:0" }, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return 5
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Serving()
	fmt.Printf("ports %s %s\n", srv.Addr(80), srv.AdminAddr())
	io.Copy(io.Discard, os.Stdin)
	cancel()
	<-done
	return 0
}

// security.md UP-08 (and the fault issue): with its file descriptors
// exhausted, the gateway keeps answering health checks on the admin port
// (one descriptor is kept in reserve), closes its longest idle keep-alive
// connections to serve new clients, never crashes or spins, and recovers
// fully once clients let go. Run in a child process whose RLIMIT_NOFILE
// is 64.
func TestUP08FileDescriptorExhaustion(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_TEST_CHILD=fd-exhaustion")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	logs := &syncBuffer{} // written by the child's output copier while the test reads it
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
		if t.Failed() {
			t.Logf("child logs:\n%s", logs.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var data, admin string
	if _, serr := fmt.Sscanf(line, "ports %s %s", &data, &admin); err != nil || serr != nil {
		t.Fatalf("child said %q (%v, %v)", line, err, serr)
	}
	ready := func() int {
		c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + admin + "/healthz/ready")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Idle keep-alive connections beyond the limit: each new one is served
	// because older idle ones are closed to make room.
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for i := range 2 * fdLimit {
		c, err := net.DialTimeout("tcp", data, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		if out := rawRoundTrip(t, c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.1 200") {
			t.Fatalf("keep-alive connection %d: %q", i, out)
		}
	}
	// Descriptors held by connections that are not idle (a request head
	// never finished): nothing can be reclaimed, and the admin port still
	// answers from its reserve.
	var stuck []net.Conn
	defer func() {
		for _, c := range stuck {
			c.Close()
		}
	}()
	for range 2 * fdLimit {
		c, err := net.DialTimeout("tcp", data, 2*time.Second)
		if err != nil {
			break
		}
		io.WriteString(c, "GET / HTTP/1.1\r\n")
		stuck = append(stuck, c)
	}
	time.Sleep(300 * time.Millisecond) // the child is out of descriptors now
	for range 3 {
		if code := ready(); code != http.StatusOK {
			t.Fatalf("readiness with descriptors exhausted: %d, want 200", code)
		}
	}
	for _, c := range stuck {
		c.Close()
	}
	stuck = nil
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", data, time.Second)
		if err == nil {
			out := rawRoundTrip(t, c, get("a"))
			c.Close()
			if strings.HasPrefix(out, "HTTP/1.1 200") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no recovery after clients let go of their connections")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"out of file descriptors: closed idle keep-alive connections",
		"out of file descriptors: the admin port accepted a connection with its reserved descriptor"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the child never logged %q", want)
		}
	}
}
