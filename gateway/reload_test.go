package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// probe sends requests in a loop and records anything but a 200 whose
// body is one of the allowed ones.
type probe struct {
	stop  chan struct{}
	done  sync.WaitGroup
	mu    sync.Mutex
	bad   []string
	count atomic.Int64
	last  atomic.Value
}

func startProbe(t *testing.T, url string, workers int) *probe {
	p := &probe{stop: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for range workers {
		p.done.Go(func() {
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err != nil {
					p.fail(err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || err != nil {
					p.fail(fmt.Sprintf("%d %q %v", resp.StatusCode, body, err))
					continue
				}
				p.last.Store(string(body))
				p.count.Add(1)
			}
		})
	}
	return p
}

func (p *probe) fail(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bad = append(p.bad, s)
}

// finish stops the probe and fails the test on any bad response.
func (p *probe) finish(t *testing.T) {
	close(p.stop)
	p.done.Wait()
	if len(p.bad) > 0 {
		t.Errorf("%d of %d probe requests failed during reloads; first: %s", len(p.bad), int(p.count.Load())+len(p.bad), p.bad[0])
	}
	if p.count.Load() == 0 {
		t.Error("the probe completed no request")
	}
}

// waitBody waits until the probe sees want.
func (p *probe) waitBody(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if p.last.Load() == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the probe never saw %q (last %v)", want, p.last.Load())
}

// Every way people change files (rename into place, in-place truncate and
// write, a new file, a deleted file) is applied, a broken file is kept out,
// and no request fails meanwhile.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	a, b, c := startUpstream(t, named("a")), startUpstream(t, named("b")), startUpstream(t, named("c"))
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(a)})
	p := startProbe(t, g.url(80)+"/", 4)
	p.waitBody(t, "a")

	// Rename into place, as atomic writers and vim do.
	tmp := filepath.Join(g.dir, ".vs.yaml.tmp")
	os.WriteFile(tmp, []byte(vsTo(b)), 0o644)
	os.Rename(tmp, filepath.Join(g.dir, "vs.yaml"))
	p.waitBody(t, "b")

	// In place: truncate, then write.
	f, _ := os.OpenFile(filepath.Join(g.dir, "vs.yaml"), os.O_TRUNC|os.O_WRONLY, 0)
	f.WriteString(vsTo(c)[:40])
	f.WriteString(vsTo(c)[40:])
	f.Close()
	p.waitBody(t, "c")

	// A broken file is reported with its position and changes nothing.
	g.write("broken.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [a]\n  gateways: [gw]\n  htp: []\n")
	ev := g.waitReload()
	for ev.err == nil {
		ev = g.waitReload()
	}
	if msg := ev.err.Error(); !strings.Contains(msg, "broken.yaml:7: VirtualService default/x: spec.htp: unknown field \"htp\"") {
		t.Errorf("reload error = %q, want broken.yaml:7 and the field", msg)
	}
	os.Remove(filepath.Join(g.dir, "broken.yaml"))

	// A new file, then that file deleted.
	g.write("vs.yaml", "")
	os.Remove(filepath.Join(g.dir, "vs.yaml"))
	g.write("other.yaml", vsTo(a))
	p.waitBody(t, "a")
	p.finish(t)
}

// A Kubernetes ConfigMap volume: files are symlinks through "..data",
// which kubelet swaps atomically to a new timestamped directory.
func TestReloadConfigMapSwap(t *testing.T) {
	t.Parallel()
	a, b := startUpstream(t, named("a")), startUpstream(t, named("b"))
	dir := t.TempDir()
	version := 0
	swap := func(vs string) {
		version++
		ts := filepath.Join(dir, fmt.Sprintf("..2026_11_25_12_00_%02d.%d", version, version))
		os.Mkdir(ts, 0o755)
		os.WriteFile(filepath.Join(ts, "gw.yaml"), []byte(httpGateway), 0o644)
		os.WriteFile(filepath.Join(ts, "vs.yaml"), []byte(vs), 0o644)
		tmp := filepath.Join(dir, "..data_tmp")
		os.Symlink(filepath.Base(ts), tmp)
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"gw.yaml", "vs.yaml"} {
			os.Symlink(filepath.Join("..data", n), filepath.Join(dir, n))
		}
	}
	swap(vsTo(a))
	g := startGW(t, nil, func(o *Options) { o.ConfigPaths = []string{dir} })
	p := startProbe(t, g.url(80)+"/", 4)
	p.waitBody(t, "a")
	for i := range 10 {
		want, port := "b", b
		if i%2 == 1 {
			want, port = "a", a
		}
		swap(vsTo(port))
		p.waitBody(t, want)
	}
	p.finish(t)
}

// gated returns a handler that blocks every request until release is
// called (at the latest when the test ends), answering body; entered is
// closed when the first request arrives.
func gated(t *testing.T, body string) (port uint32, entered <-chan struct{}, release func()) {
	in, out := make(chan struct{}), make(chan struct{})
	var first, done sync.Once
	port = startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Do(func() { close(in) })
		<-out
		io.WriteString(w, body)
	}))
	release = func() { done.Do(func() { close(out) }) }
	t.Cleanup(release)
	return port, in, release
}

// A request in flight finishes on the configuration it started with.
func TestInFlightKeepsItsSnapshot(t *testing.T) {
	t.Parallel()
	slow, entered, release := gated(t, "old")
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(slow)})
	result := make(chan string, 1)
	go func() {
		_, body, _ := g.get(80, "", "/")
		result <- body
	}()
	<-entered
	g.write("vs.yaml", vsTo(startUpstream(t, named("new"))))
	g.waitGen(2)
	if _, body, _ := g.get(80, "", "/"); body != "new" {
		t.Errorf("new request = %q, want new", body)
	}
	release()
	if body := <-result; body != "old" {
		t.Errorf("in-flight request = %q, want old", body)
	}
}

// Listeners follow the Gateways: a new port opens, a removed one stops
// accepting while its in-flight request completes.
func TestPortAddedAndDrained(t *testing.T) {
	t.Parallel()
	slow, entered, release := gated(t, "finished")
	twoPorts := httpGateway + "  - port: {number: 81, name: http-81, protocol: HTTP}\n    hosts: [\"*\"]\n"
	g := startGW(t, map[string]string{"gw.yaml": twoPorts, "vs.yaml": vsTo(slow)})
	addr81 := g.srv.Addr(81).String()
	result := make(chan string, 1)
	go func() {
		_, body, _ := g.get(81, "", "/")
		result <- body
	}()
	<-entered
	g.write("gw.yaml", httpGateway+"  - port: {number: 82, name: http-82, protocol: HTTP}\n    hosts: [\"*\"]\n")
	g.waitGen(2)
	if g.srv.Addr(81) != nil {
		t.Error("port 81 still has a listener")
	}
	if c, err := net.DialTimeout("tcp", addr81, time.Second); err == nil {
		c.Close()
		t.Error("the removed port still accepts connections")
	}
	if g.srv.Addr(82) == nil {
		t.Fatal("port 82 did not open")
	}
	release()
	if body := <-result; body != "finished" {
		t.Errorf("in-flight request on the removed port = %q, want finished", body)
	}
	if code, body, _ := g.get(82, "", "/"); code != 200 || body != "finished" {
		t.Errorf("new port = %d %q", code, body)
	}
}

// A valid change is live well under a second after the write, with the
// default debounce.
func TestReloadLatency(t *testing.T) {
	t.Parallel()
	a, b := startUpstream(t, named("a")), startUpstream(t, named("b"))
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(a)}, func(o *Options) { o.Settle = 0 })
	if _, body, _ := g.get(80, "", "/"); body != "a" {
		t.Fatalf("before the change: %q", body)
	}
	start := time.Now()
	g.write("vs.yaml", vsTo(b))
	g.waitGen(2)
	took := time.Since(start)
	if _, body, _ := g.get(80, "", "/"); body != "b" {
		t.Errorf("after the reload: %q, want b", body)
	}
	if took > 750*time.Millisecond {
		t.Errorf("the change was live %v after the write, want well under a second", took)
	}
}

// Reloads forced the way SIGHUP does (Server.Reload), interleaved with
// file changes, under concurrent requests: no request fails and every
// change is served.
func TestForcedReloadUnderLoad(t *testing.T) {
	t.Parallel()
	a, b := startUpstream(t, named("a")), startUpstream(t, named("b"))
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(a)})
	p := startProbe(t, g.url(80)+"/", 4)
	p.waitBody(t, "a")
	for i := range 6 {
		want, port := "b", b
		if i%2 == 1 {
			want, port = "a", a
		}
		g.write("vs.yaml", vsTo(port))
		if err := g.srv.Reload(); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		if _, body, _ := g.get(80, "", "/"); body != want {
			t.Errorf("right after Reload returned: %q, want %q", body, want)
		}
		for range 3 {
			g.srv.Reload() // nothing changed: a no-op that must not disturb anything
		}
		p.waitBody(t, want)
	}
	p.finish(t)
}
