package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// On shutdown readiness fails at once while the listeners keep accepting
// for the drain delay, every response asking the client to close its
// connection; then they stop accepting and in-flight requests finish. A
// request loop opening new connections sees no refusal and no failure
// during the delay, a probe sees readiness fail right away, and a slow
// request in flight across the whole sequence completes.
func TestShutdownDrainDelay(t *testing.T) {
	t.Parallel()
	const delay = 800 * time.Millisecond
	slow, entered, release := gated(t, "slow")
	g := startGW(t, routes(`
  - match: [{uri: {prefix: /slow}}]
    route: [{destination: {host: 127.0.0.1, port: {number: `+fmt.Sprint(slow)+`}}}]
  - route: [{destination: {host: 127.0.0.1, port: {number: `+fmt.Sprint(startUpstream(t, named("fast")))+`}}}]
`), func(o *Options) { d := delay; o.DrainDelay = &d })
	base := g.url(80)
	ready := func() int {
		rec := httptest.NewRecorder()
		g.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz/ready", nil))
		return rec.Code
	}
	slowDone := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slowDone <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slowDone <- string(b)
	}()
	<-entered
	var cancelAt atomic.Int64 // when shutdown began, unix ns
	var stopAt atomic.Int64   // when readiness was seen failing, unix ns
	var mu sync.Mutex
	var failures []string
	var keptAlive, served atomic.Int32
	loop := func(client *http.Client) {
		for {
			start := time.Now()
			// The delay runs from shutdown's start; stop with half of it
			// left, so that a request in flight on a loaded machine
			// finishes before the listeners close.
			if at := cancelAt.Load(); at != 0 && start.Sub(time.Unix(0, at)) > delay/2 {
				return // the delay is ending: refusals from here on are expected
			}
			resp, err := client.Get(base + "/")
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			served.Add(1)
			if at := stopAt.Load(); at != 0 && start.Sub(time.Unix(0, at)) > 50*time.Millisecond && !resp.Close {
				keptAlive.Add(1)
			}
		}
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { loop(&http.Client{Transport: &http.Transport{}}) })                        // keep-alive
		wg.Go(func() { loop(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}) }) // new connections
	}
	time.Sleep(100 * time.Millisecond)
	if ready() != http.StatusOK {
		t.Fatal("not ready before shutdown")
	}
	cancelAt.Store(time.Now().UnixNano())
	g.cancel()
	deadline := time.Now().Add(200 * time.Millisecond)
	for ready() == http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("readiness still 200 200ms after shutdown began")
		}
		time.Sleep(time.Millisecond)
	}
	stopAt.Store(time.Now().UnixNano())
	wg.Wait()
	if len(failures) > 0 || served.Load() == 0 {
		t.Fatalf("%d requests served; %d failed during the drain delay, first: %v", served.Load(), len(failures), failures)
	}
	if n := keptAlive.Load(); n > 0 {
		t.Errorf("%d responses after shutdown began did not ask the client to close its connection", n)
	}
	time.Sleep(delay) // the listeners close; the slow request is in flight
	release()
	select {
	case got := <-slowDone:
		if got != "slow" {
			t.Errorf("the request in flight across the shutdown got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request in flight never finished")
	}
	if err := <-g.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	g.done <- nil
}

// A request still waiting on its upstream when the drain timeout ends is
// ended with it, over HTTP/1.1 and h2c alike: the client's connection
// closes, the upstream's connection is closed within a second of Run
// returning, and nothing waits for the stream idle timeout.
func TestShutdownEndsRequestsPastDrain(t *testing.T) {
	t.Parallel()
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	for _, tc := range []struct {
		name   string
		client *http.Client
	}{{"HTTP/1.1", &http.Client{Transport: &http.Transport{}}}, {"h2c", &http.Client{Transport: h2c}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, closed := make(chan struct{}), make(chan time.Time, 1)
			port := rawUpstream(t, func(c net.Conn) {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				close(got)
				io.Copy(io.Discard, c) // never answers; returns when the gateway closes
				closed <- time.Now()
			})
			g := startGW(t, routes(fmt.Sprintf("  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n", port)),
				func(o *Options) { o.DrainTimeout = 300 * time.Millisecond })
			clientErr := make(chan error, 1)
			go func() {
				resp, err := tc.client.Get(g.url(80) + "/")
				if err == nil {
					resp.Body.Close()
				}
				clientErr <- err
			}()
			<-got
			g.cancel()
			start := time.Now()
			if err := <-g.done; err != nil {
				t.Errorf("Run: %v", err)
			}
			g.done <- nil
			returned := time.Now()
			if took := returned.Sub(start); took > 3*time.Second {
				t.Errorf("Run returned %v after the signal, want about the 300ms drain", took)
			}
			select {
			case at := <-closed:
				if at.Sub(returned) > time.Second {
					t.Errorf("the upstream connection closed %v after Run returned", at.Sub(returned))
				}
			case <-time.After(3 * time.Second):
				t.Fatal("the upstream connection was still open 3s after Run returned")
			}
			select {
			case err := <-clientErr:
				if err == nil {
					t.Error("the client got a response from an upstream that never answered")
				}
			case <-time.After(3 * time.Second):
				t.Error("the client was still waiting 3s after Run returned")
			}
		})
	}
}

// Regression (found in review): a Reload that runs while Run is draining (SIGHUP, or the watcher
// already inside Reload) sees no listeners and binds every port again;
// the new listeners outlive Run.
func TestReloadDuringDrainDoesNotRebind(t *testing.T) {
	release := make(chan struct{})
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	dir := t.TempDir()
	for n, d := range oneRoute(port, "") {
		os.WriteFile(filepath.Join(dir, n), []byte(d), 0o644)
	}
	srv, err := New(Options{ConfigPaths: []string{dir}, ListenAddr: func(string, uint32) string { return "127.0.0.1:0" },
		Logger: slog.New(slog.DiscardHandler), DrainTimeout: 2 * time.Second, Settle: time.Hour, DrainDelay: new(time.Duration)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Serving()
	addr := srv.Addr(80).String()
	go http.Get("http://" + addr + "/") // in flight: keeps the drain going
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond)
	os.WriteFile(filepath.Join(dir, "vs.yaml"), []byte(oneRoute(port, "    timeout: 5s\n")["vs.yaml"]), 0o644)
	if err := srv.Reload(); err == nil {
		t.Error("a reload during shutdown was applied")
	}
	close(release)
	<-done
	if a := srv.Addr(80); a != nil {
		c, err := net.Dial("tcp", a.String())
		if err == nil {
			c.Close()
		}
		t.Errorf("after Run returned, port 80 is served again on %s (dial err %v)", a, err)
	}
}
