package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// twoRoutes is a VirtualService document routing /one and, when both is
// set, /two: written in two parts, the first part is valid on its own.
func twoRoutes(one, two uint32) (part1, part2 string) {
	part1 = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: one}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /one}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, one)
	part2 = fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: two}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /two}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, two)
	return part1, part2
}

// noReload fails the test if a reload is attempted within d.
func (g *gw) noReload(d time.Duration, why string) {
	g.t.Helper()
	select {
	case ev := <-g.reloads:
		g.t.Fatalf("%s: a reload ran (generation %d, error %v)", why, ev.gen, ev.err)
	case <-time.After(d):
	}
}

// A file written in place in two parts, the first valid on its own, with
// a pause longer than the settle window between them, never goes live
// half-written: no reload runs until the writer closes the file, and then
// the whole file goes live in one generation. (A slow scp, a script
// writing in pieces; CFG-02's partial write.)
func TestPartialWriteNeverGoesLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the close of a file by its writer is seen on Linux only; elsewhere the size and time must settle")
	}
	t.Parallel()
	one, two := startUpstream(t, named("one")), startUpstream(t, named("two"))
	part1, part2 := twoRoutes(one, two)
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(startUpstream(t, named("old")))})
	g.waitReload() // the watcher's first look
	f, err := os.OpenFile(filepath.Join(g.dir, "vs.yaml"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(part1); err != nil {
		t.Fatal(err)
	}
	g.noReload(10*g.srv.opts.Settle, "the writer paused after the first part")
	if _, body, _ := g.get(80, "", "/one"); body != "old" {
		t.Fatalf("during the write /one = %q, want the old configuration's answer", body)
	}
	if _, err := f.WriteString(part2); err != nil {
		t.Fatal(err)
	}
	g.noReload(5*g.srv.opts.Settle, "the writer has not closed the file")
	f.Close()
	if ev := g.waitReload(); ev.err != nil || ev.gen != 2 {
		t.Fatalf("after the close: generation %d, error %v; want 2, nil", ev.gen, ev.err)
	}
	for path, want := range map[string]string{"/one": "one", "/two": "two"} {
		if _, body, _ := g.get(80, "", path); body != want {
			t.Errorf("%s = %q, want %q", path, body, want)
		}
	}
}

// Writes to files beside the configuration that are not configuration (a
// log file, an editor's swap and backup files) cause no reload and no log
// line, whether the configuration is a directory or a file whose
// directory is watched. A debug log written next to the configuration
// once made every log line an event, and the process spun.
func TestWatcherIgnoresUnrelatedFiles(t *testing.T) {
	t.Parallel()
	for _, asFile := range []bool{false, true} {
		t.Run(fmt.Sprintf("config given as a file: %v", asFile), func(t *testing.T) {
			t.Parallel()
			files := map[string]string{"gw.yaml": httpGateway + "---\n" + vsTo(startUpstream(t, named("a")))}
			g := startGW(t, files, func(o *Options) {
				if asFile {
					o.ConfigPaths = []string{filepath.Join(o.ConfigPaths[0], "gw.yaml")}
				}
			})
			g.waitReload() // the watcher's first look
			logLines := strings.Count(g.logs.String(), "\n")
			log, err := os.OpenFile(filepath.Join(g.dir, "gatehouse.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer log.Close()
			for i := range 200 {
				fmt.Fprintf(log, "line %d\n", i)
				os.WriteFile(filepath.Join(g.dir, ".gw.yaml.swp"), []byte{byte(i)}, 0o644)
				os.WriteFile(filepath.Join(g.dir, "gw.yaml~"), []byte{byte(i)}, 0o644)
			}
			g.noReload(10*g.srv.opts.Settle, "only unrelated files changed")
			if n := strings.Count(g.logs.String(), "\n"); n != logLines {
				t.Fatalf("%d log lines written about unrelated files:\n%s", n-logLines, g.logs.String())
			}
			b := startUpstream(t, named("b"))
			g.write("gw.yaml", httpGateway+"---\n"+vsTo(b))
			if ev := g.waitReload(); ev.err != nil || ev.gen != 2 {
				t.Fatalf("a real change: generation %d, error %v", ev.gen, ev.err)
			}
		})
	}
}

// configMap lays out dir the way kubelet's AtomicWriter does and swaps
// "..data" to a new timestamped directory holding files.
type configMap struct {
	t       *testing.T
	dir     string
	version int
}

// swap writes files into a new timestamped directory (none when files is
// nil: a swap whose files are not there yet), points ..data at it,
// makes sure the top-level links exist and removes the previous directory.
func (c *configMap) swap(files map[string]string) string {
	c.version++
	ts := filepath.Join(c.dir, fmt.Sprintf("..2026_12_07_00_00_%02d.%d", c.version, c.version))
	if err := os.Mkdir(ts, 0o755); err != nil {
		c.t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(ts, name), []byte(data), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(c.dir, "..data"))
	tmp := filepath.Join(c.dir, "..data_tmp")
	os.Symlink(filepath.Base(ts), tmp)
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
	for _, n := range []string{"gw.yaml", "vs.yaml"} {
		os.Symlink(filepath.Join("..data", n), filepath.Join(c.dir, n))
	}
	if old != "" {
		os.RemoveAll(filepath.Join(c.dir, old))
	}
	return ts
}

// security.md CFG-04: a Kubernetes ConfigMap's "..data" symlink swap, as
// kubelet's AtomicWriter makes it, is applied exactly once per swap, 30
// times in a row under load. A swap to a directory whose files are not
// there yet (every link dangling) keeps the last good configuration and
// says why; the files arriving then go live.
func TestCFG04ConfigMapSwap(t *testing.T) {
	t.Parallel()
	a, b := startUpstream(t, named("a")), startUpstream(t, named("b"))
	cm := &configMap{t: t, dir: t.TempDir()}
	cm.swap(map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(a)})
	g := startGW(t, nil, func(o *Options) { o.ConfigPaths = []string{cm.dir} })
	g.waitReload() // the watcher's first look
	p := startProbe(t, g.url(80)+"/", 2)
	for i := range 30 {
		want, port := "b", b
		if i%2 == 1 {
			want, port = "a", a
		}
		cm.swap(map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(port)})
		// One reload per swap: the generation reaches i+2 and no further.
		deadline := time.Now().Add(5 * time.Second)
		for g.srv.Snapshot().Gen < uint64(i+2) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if gen := g.srv.Snapshot().Gen; gen != uint64(i+2) {
			t.Fatalf("after swap %d the generation is %d, want %d: one reload per swap", i+1, gen, i+2)
		}
		if _, body, _ := g.get(80, "", "/"); body != want {
			t.Fatalf("after swap %d: %q, want %q", i+1, body, want)
		}
	}
	// Every link dangling: the ports keep answering with the last good
	// configuration, and the reason is logged.
	ts := cm.swap(nil)
	var ev reloadEvent
	for ev.err == nil {
		ev = g.waitReload()
	}
	if !strings.Contains(ev.err.Error(), "is a link to a missing file") {
		t.Errorf("the rejected reload says %v", ev.err)
	}
	if _, body, _ := g.get(80, "", "/"); body != "a" {
		t.Errorf("after a swap to missing files: %q, want the last good configuration's a", body)
	}
	os.WriteFile(filepath.Join(ts, "gw.yaml"), []byte(httpGateway), 0o644)
	os.WriteFile(filepath.Join(ts, "vs.yaml"), []byte(vsTo(b)), 0o644)
	p.waitBody(t, "b")
	p.finish(t)
}

// A reload that finds no configuration file (every file removed) keeps
// the last good configuration and says why; so does a start on an empty
// directory, which never serves an empty configuration.
func TestNoConfigurationFilesKeepsServing(t *testing.T) {
	t.Parallel()
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(startUpstream(t, named("a")))})
	g.waitReload()
	os.Remove(filepath.Join(g.dir, "vs.yaml"))
	os.Remove(filepath.Join(g.dir, "gw.yaml"))
	var ev reloadEvent
	for ev.err == nil {
		ev = g.waitReload()
	}
	if !strings.Contains(ev.err.Error(), "no configuration files") {
		t.Errorf("the rejected reload says %v", ev.err)
	}
	if _, body, _ := g.get(80, "", "/"); body != "a" {
		t.Errorf("with every file gone: %q, want the last good configuration's a", body)
	}
	if _, err := New(Options{ConfigPaths: []string{t.TempDir()}}); err == nil || !strings.Contains(err.Error(), "no configuration files") {
		t.Errorf("New on an empty directory: %v", err)
	}
}
