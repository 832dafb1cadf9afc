package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cfg05Parity names the probe requests that policy version v denies.
func cfg05Parity(v int) string { return [2]string{"even", "odd"}[v%2] }

// cfg05Files are version v of the VirtualService (its route labels the
// response with v) and of the AuthorizationPolicy (it denies the probe
// requests of v's parity), in separate files.
func cfg05Files(v int, port uint32) (vs, ap string) {
	vs = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - headers: {response: {set: {x-label: "%d"}}}
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, v, port)
	ap = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: parity, namespace: istio-system}
spec:
  action: DENY
  rules: [{when: [{key: "request.headers[x-probe]", values: [` + cfg05Parity(v) + `]}]}]
`
	return vs, ap
}

// cfg05Probe sends requests alternately marked odd and even and checks
// each answer against one snapshot: a 200 labelled v is never a request
// of v's parity (that would be route v with policy v-1, or v+1), labels
// never go backwards on one connection, and nothing but 200 or 403 comes.
type cfg05Probe struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	n      atomic.Int64
	label  atomic.Int64 // the latest label seen
	mu     sync.Mutex
	faults []string
}

func (p *cfg05Probe) run(url string, workers int) {
	for w := range workers {
		p.wg.Go(func() {
			c := &http.Client{Transport: &http.Transport{}}
			last := 0
			for i := w; ; i++ {
				select {
				case <-p.stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("X-Probe", cfg05Parity(i))
				resp, err := c.Do(req)
				if err != nil {
					p.fault(err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				p.n.Add(1)
				label, _ := strconv.Atoi(resp.Header.Get("X-Label"))
				switch {
				case resp.StatusCode == 403:
				case resp.StatusCode != 200:
					p.fault(fmt.Sprintf("status %d", resp.StatusCode))
				case cfg05Parity(label) == cfg05Parity(i):
					p.fault(fmt.Sprintf("a %s request allowed by route %d: route and policy of different versions", cfg05Parity(i), label))
				case label < last:
					p.fault(fmt.Sprintf("version %d after %d on one connection", label, last))
				default:
					last = label
					p.label.Store(int64(label))
				}
			}
		})
	}
}

func (p *cfg05Probe) fault(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, s)
}

// waitLabel waits until the probe is served version v.
func (p *cfg05Probe) waitLabel(t *testing.T, v int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); p.label.Load() != int64(v); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("version %d never served (latest %d)", v, p.label.Load())
		}
	}
}

// security.md CFG-05: multi-file atomicity and in-flight requests. The
// Gateway, VirtualService and AuthorizationPolicy live in three files.
// While 4 clients send requests as fast as they can: 3 swaps in which the
// route and the policy files are rewritten 20 ms apart (the watcher),
// 20 swaps at 10 per second applied through Reload (SIGHUP's path), the
// Gateway file deleted while the VirtualService names it, and a new port
// whose bind fails. Every answer comes from one snapshot, route and policy
// of the same version; no reload causes anything but 200 or 403; the
// rejected reloads keep serving; the failed bind leaves the old port.
func TestCFG05MultiFileAtomicity(t *testing.T) {
	t.Parallel()
	port := startUpstream(t, named("up"))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	vs, ap := cfg05Files(1, port)
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vs, "ap.yaml": ap}, func(o *Options) {
		o.Settle = 300 * time.Millisecond // far above the 20 ms between two files' writes
		o.ListenAddr = func(_ string, p uint32) string {
			if p == 81 {
				return busy.Addr().String()
			}
			return "127.0.0.1:0"
		}
	})
	p := &cfg05Probe{stop: make(chan struct{})}
	p.run(g.url(80)+"/", 4)
	p.waitLabel(t, 1)
	drain := func() {
		for len(g.reloads) > 0 {
			<-g.reloads
		}
	}
	v := 1
	for range 3 {
		v++
		vs, ap := cfg05Files(v, port)
		g.write("vs.yaml", vs)
		time.Sleep(20 * time.Millisecond) // the catalogue's gap between the two writes
		g.write("ap.yaml", ap)
		p.waitLabel(t, v)
	}
	for tick := time.NewTicker(100 * time.Millisecond); v < 23; <-tick.C {
		v++
		vs, ap := cfg05Files(v, port)
		g.write("vs.yaml", vs)
		g.write("ap.yaml", ap)
		if err := g.srv.Reload(); err != nil {
			t.Fatalf("reload %d: %v", v, err)
		}
		drain()
	}
	p.waitLabel(t, v)
	drain()

	rejected := func(what string, change, undo func()) {
		t.Helper()
		gen := g.srv.Snapshot().Gen
		change()
		if err := g.srv.Reload(); err == nil {
			t.Errorf("%s: the reload was applied", what)
		} else {
			t.Logf("%s: %v", what, err)
		}
		undo()
		g.srv.Reload()
		drain()
		if now := g.srv.Snapshot().Gen; now != gen {
			t.Errorf("%s: generation %d, want %d", what, now, gen)
		}
	}
	rejected("the Gateway file deleted", func() { os.Remove(filepath.Join(g.dir, "gw.yaml")) }, func() { g.write("gw.yaml", httpGateway) })
	rejected("a port that cannot be bound", func() {
		g.write("gw.yaml", httpGateway+"  - port: {number: 81, name: http-81, protocol: HTTP}\n    hosts: [\"*\"]\n")
	}, func() { g.write("gw.yaml", httpGateway) })
	if g.srv.Addr(81) != nil {
		t.Error("port 81 has a listener after its bind failed")
	}
	if code, _, h := g.get(80, "", "/"); code != 200 || h.Get("X-Label") != fmt.Sprint(v) {
		t.Errorf("after the rejected reloads: %d label %q, want 200 from version %d", code, h.Get("X-Label"), v)
	}

	close(p.stop)
	p.wg.Wait()
	t.Logf("%d requests", p.n.Load())
	if len(p.faults) > 0 {
		t.Errorf("%d of %d answers were wrong; first: %s", len(p.faults), p.n.Load(), p.faults[0])
	}
	if p.n.Load() < 100 {
		t.Errorf("only %d requests completed", p.n.Load())
	}
}
