package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// SIGHUP reloads under concurrent requests, interleaved with file changes:
// every change is served and no request fails.
func TestAuditSIGHUPUnderLoad(t *testing.T) {
	upstreams := map[string]int{}
	for _, name := range []string{"a", "b"} {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		upstreams[name] = ln.Addr().(*net.TCPAddr).Port
	}
	dir := t.TempDir()
	port := closedAddr(t)[len("127.0.0.1:"):]
	write := func(to string) {
		cfg := fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n  - port: {number: %s, name: http, protocol: HTTP}\n    bind: 127.0.0.1\n    hosts: ['*']\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: ['*']\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n",
			port, upstreams[to])
		if err := os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a")

	var out lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"run", "--config", dir, "--admin", "", "--drain-timeout", "2s", "--drain-delay", "0s"}, &out, &out)
	}()
	waitFor(t, &out, regexp.MustCompile(`gatehouse serving`))

	url := "http://127.0.0.1:" + port + "/"
	var (
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		mu      sync.Mutex
		bad     []string
		last    atomic.Value
		count   atomic.Int64
		changed = make(chan struct{}, 1)
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err != nil {
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || err != nil {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%d %q %v", resp.StatusCode, b, err))
					mu.Unlock()
					continue
				}
				count.Add(1)
				if prev := last.Swap(string(b)); prev != string(b) {
					select {
					case changed <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	waitBody := func(want string) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for last.Load() != want {
			select {
			case <-changed:
			case <-timeout:
				t.Fatalf("the clients never saw %q (last %v)", want, last.Load())
			}
		}
	}
	waitBody("a")
	for i := range 4 {
		want := "b"
		if i%2 == 1 {
			want = "a"
		}
		write(want)
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		waitBody(want)
		for range 3 {
			syscall.Kill(os.Getpid(), syscall.SIGHUP) // unchanged files: must disturb nothing
		}
	}
	waitFor(t, &out, regexp.MustCompile(`SIGHUP: reloading`))
	close(stop)
	wg.Wait()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("run exited %d:\n%s", code, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop after SIGTERM")
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d requests failed across SIGHUP reloads; first: %s", len(bad), int(count.Load())+len(bad), bad[0])
	}
	if n := strings.Count(out.String(), "SIGHUP: reloading"); n < 4 {
		t.Errorf("%d SIGHUP reloads logged, want at least 4", n)
	}
}
