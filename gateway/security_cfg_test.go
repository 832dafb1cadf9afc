package gateway

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// waitRejected waits for the next reload that fails (a change may make
// more than one attempt).
func (g *gw) waitRejected() reloadEvent {
	g.t.Helper()
	ev := g.waitReload()
	for ev.err == nil {
		ev = g.waitReload()
	}
	return ev
}

// waitAccepted waits for the next reload that succeeds or finds nothing
// changed.
func (g *gw) waitAccepted() reloadEvent {
	g.t.Helper()
	ev := g.waitReload()
	for ev.err != nil {
		ev = g.waitReload()
	}
	return ev
}

// cfgBadFiles are files that make a configuration invalid, each with the
// position its error must name.
var cfgBadFiles = []struct{ name, data, want string }{
	{"YAML syntax error", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x\n", "bad.yaml:2:"},
	{"unknown field", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [x.example.com]\n  gateways: [gw]\n  htp: []\n",
		`bad.yaml:7: VirtualService default/x: spec.htp: unknown field "htp"`},
	{"port 70000", "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: big}\nspec:\n  servers:\n  - port: {number: 70000, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n",
		"bad.yaml:6: Gateway default/big: spec.servers[0].port.number: port 70000 is out of range"},
	{"bad regex", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [x.example.com]\n  gateways: [gw]\n  http:\n  - match: [{uri: {regex: \"(\"}}]\n    route: [{destination: {host: x.example.com}}]\n",
		"bad.yaml:8: VirtualService default/x: spec.http[0].match[0].uri.regex: regex does not compile"},
	{"a Gateway that does not exist", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [x.example.com]\n  gateways: [nope]\n  http:\n  - route: [{destination: {host: x.example.com}}]\n",
		"bad.yaml:6: VirtualService default/x: spec.gateways[0]: Gateway default/nope not found"},
	{"empty file", "", "bad.yaml: file holds no configuration"},
}

// security.md CFG-01: an invalid config keeps the last good one;
// startup semantics. Each bad file, added while a probe keeps sending
// requests, is rejected as a whole: the generation stays, every probe
// request gets the same answer, the error names file:line, is logged and
// counted as a failed reload, and readiness stays green. The same files
// make New fail at startup, which `gatehouse run` turns into exit code 1
// (main's TestExitCodes). Startup on an empty directory is
// TestCFG01EmptyConfigRefused.
func TestCFG01InvalidConfigKeepsLastGood(t *testing.T) {
	t.Parallel()
	g := startGW(t, oneRoute(startUpstream(t, named("a")), ""))
	g.waitReload() // the watcher's first look
	p := startProbe(t, g.url(80)+"/", 2)
	p.waitBody(t, "a")
	bad := filepath.Join(g.dir, "bad.yaml")
	for i, tc := range cfgBadFiles {
		g.write("bad.yaml", tc.data)
		ev := g.waitRejected()
		if ev.err == nil || !strings.Contains(ev.err.Error(), tc.want) || ev.gen != 1 {
			t.Errorf("%s: reload gen %d err %v, want gen 1 and an error containing %q", tc.name, ev.gen, ev.err, tc.want)
		}
		if code, body, _ := g.get(80, "", "/"); code != 200 || body != "a" {
			t.Errorf("%s: served %d %q, want the last good 200 a", tc.name, code, body)
		}
		rec := httptest.NewRecorder()
		g.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz/ready", nil))
		if rec.Code != 200 {
			t.Errorf("%s: readiness %d, want 200", tc.name, rec.Code)
		}
		fams := scrape(t, g, "/metrics")
		if n := value(t, fams, "gatehouse_config_reloads_total", "result=failure"); n < float64(i+1) {
			t.Errorf("%s: failed reloads counted %v, want at least %d", tc.name, n, i+1)
		}
		if v := value(t, fams, "gatehouse_config_last_reload_successful"); v != 0 {
			t.Errorf("%s: last_reload_successful %v, want 0", tc.name, v)
		}
		if logs := g.logs.String(); !strings.Contains(logs, "reload rejected") || !strings.Contains(logs, strings.ReplaceAll(tc.want, `"`, `\"`)) {
			t.Errorf("%s: the error is not logged", tc.name)
		}
		os.Remove(bad)
		if ev := g.waitAccepted(); ev.gen != 1 {
			t.Errorf("%s removed: gen %d err %v, want the served generation back", tc.name, ev.gen, ev.err)
		}
	}
	p.finish(t)
	if n := value(t, scrape(t, g, "/metrics"), "gatehouse_config_reloads_total", "result=success"); n != 0 {
		t.Errorf("successful reloads %v, want none", n)
	}

	for _, tc := range cfgBadFiles {
		dir := t.TempDir()
		for name, data := range map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(1), "bad.yaml": tc.data} {
			os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
		}
		if _, err := New(Options{ConfigPaths: []string{dir}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("startup with %s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// security.md CFG-03: rename-over saves. 50 saves in each way editors
// and tools replace a file: an atomic writer's rename of vs.yaml.tmp over
// vs.yaml, vim's rename of vs.yaml to vs.yaml~ and a new vs.yaml, and
// `sed -i` (its own temporary file renamed over). Each save is applied,
// as exactly one new generation serving the new route; a chmod between
// saves changes nothing and does not stop the watcher.
func TestCFG03RenameOverSaves(t *testing.T) {
	t.Parallel()
	a, b := startUpstream(t, named("a")), startUpstream(t, named("b"))
	saves := map[string]func(dir, data string) error{
		"atomic rename": func(dir, data string) error {
			tmp := filepath.Join(dir, "vs.yaml.tmp")
			if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, filepath.Join(dir, "vs.yaml"))
		},
		"vim": func(dir, data string) error {
			p := filepath.Join(dir, "vs.yaml")
			if err := os.Rename(p, p+"~"); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				return err
			}
			return os.Remove(p + "~")
		},
		"sed -i": func(dir, data string) error {
			from, to := fmt.Sprint(b), fmt.Sprint(a)
			if strings.Contains(data, fmt.Sprint(b)) {
				from, to = to, from
			}
			out, err := exec.Command("sed", "-i", "s/number: "+from+"}/number: "+to+"}/", filepath.Join(dir, "vs.yaml")).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		},
	}
	for name, save := range saves {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(a)}, func(o *Options) {
				if name == "vim" {
					// Between vim's rename and its write vs.yaml is gone: a
					// debounce well above the gap, even on a loaded machine.
					o.Settle = 100 * time.Millisecond
				}
			})
			g.waitReload()
			vs := filepath.Join(g.dir, "vs.yaml")
			for i := range 50 {
				want, port := "b", b
				if i%2 == 1 {
					want, port = "a", a
				}
				gen := g.srv.Snapshot().Gen
				if err := save(g.dir, vsTo(port)); err != nil {
					t.Fatalf("save %d: %v", i, err)
				}
				g.waitGen(gen + 1)
				if now := g.srv.Snapshot().Gen; now != gen+1 {
					t.Fatalf("save %d: generation %d, want %d", i, now, gen+1)
				}
				if code, body, _ := g.get(80, "", "/"); code != 200 || body != want {
					t.Fatalf("save %d: %d %q, want %s", i, code, body, want)
				}
				os.Chmod(vs, 0o600+os.FileMode(i%2)*0o044)
			}
		})
	}
}

// security.md CFG-01 (startup semantics): never start on an empty
// configuration, and never apply one. A configuration directory with no
// file in it makes New fail (so `gatehouse run` exits non-zero and systemd
// or Docker restarts it), and a reload that finds every file gone is
// rejected, keeping the last good generation and its listeners.
func TestCFG01EmptyConfigRefused(t *testing.T) {
	t.Parallel()
	if s, err := New(Options{ConfigPaths: []string{t.TempDir()}}); err == nil {
		s.keySets.Close()
		t.Error("New on an empty configuration directory succeeded, want an error")
	}
	g := startGW(t, oneRoute(startUpstream(t, named("a")), ""))
	g.waitReload()
	os.Remove(filepath.Join(g.dir, "gw.yaml"))
	os.Remove(filepath.Join(g.dir, "vs.yaml"))
	for ev := g.waitReload(); ; ev = g.waitReload() {
		if ev.gen != 1 {
			t.Fatalf("a reload with every file removed was applied as generation %d", ev.gen)
		}
		if ev.err != nil {
			break
		}
	}
	if code, body, _ := g.get(80, "", "/"); code != 200 || body != "a" {
		t.Errorf("after the files were removed: %d %q, want the last good 200 a", code, body)
	}
}

// security.md CFG-02 (truncate-then-write): the configuration file is
// rewritten in place 20 times, each time truncated, half written (up to
// the middle of its second route), left for 150 ms (five settle windows)
// and finished, alternating between two versions. A probe requesting both
// routes all the while never sees the half file applied (a 404 on the
// second route) nor anything but one version's answers, and each finished
// file goes live as its own generation. On Linux only: elsewhere the
// watcher waits for the size and time to settle, which a pause longer
// than the settle window defeats (the default window, 250 ms, is longer
// than this pause).
func TestCFG02TruncateThenWrite(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the close of a file by its writer is seen on Linux only")
	}
	t.Parallel()
	x, y, q := startUpstream(t, named("x")), startUpstream(t, named("y")), startUpstream(t, named("q"))
	vs := func(p uint32) string {
		return fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n"+
			"  - match: [{uri: {prefix: /p}}]\n    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n"+
			"  - match: [{uri: {prefix: /q}}]\n    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n", p, q)
	}
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vs(x)})
	g.waitReload() // the watcher's first look
	stop, probed := make(chan struct{}), make(chan []string)
	go func() {
		var bad []string
		for n := 0; ; n++ {
			select {
			case <-stop:
				probed <- append(bad, fmt.Sprintf("%d probes", n))
				return
			default:
			}
			if code, body, _ := g.get(80, "", "/q"); code != 200 || body != "q" {
				bad = append(bad, fmt.Sprintf("/q: %d %q", code, body))
			}
			if code, body, _ := g.get(80, "", "/p"); code != 200 || (body != "x" && body != "y") {
				bad = append(bad, fmt.Sprintf("/p: %d %q", code, body))
			}
		}
	}()
	path := filepath.Join(g.dir, "vs.yaml")
	for i := range 20 {
		data := vs(y)
		if i%2 == 1 {
			data = vs(x)
		}
		half := strings.Index(data, "/q")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(data[:half])
		time.Sleep(150 * time.Millisecond) // the writer's pause is the case itself
		f.WriteString(data[half:])
		f.Close()
		if ev := g.waitReload(); ev.err != nil || ev.gen != uint64(i+2) {
			t.Fatalf("write %d: generation %d, error %v; want %d, nil", i, ev.gen, ev.err, i+2)
		}
	}
	close(stop)
	got := <-probed
	if bad := got[:len(got)-1]; len(bad) > 0 {
		t.Errorf("the probe saw %d unexpected answers (%s), first %q", len(bad), got[len(got)-1], bad[0])
	}
}
