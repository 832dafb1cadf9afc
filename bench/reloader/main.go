// Command reloader rewrites one VirtualService of a running gatehouse's
// config directory again and again, and waits for each change to be
// reloaded: bench/peers.sh's reload-under-load scenario (target 5 of
// shared/docs/performance.md) and the reload time of its scale scenario.
//
//	reloader -dir DIR -log GATEHOUSE_LOG [-pid PID] [-host 49] [-routes 10]
//	         [-d 18s | -count 5] [-gap 50ms] [-watch-every 5]
//	         [-methods rename,truncate,symlink] [-timeout 10s]
//
// The file is vs/vs-<host>.yaml, and it alternates between the two
// versions of ghconf.VirtualService, which route the measured request to
// the same upstream, starting with the one it does not hold. Each change is made one of three ways, in turn:
//
//   - rename:   write a dot-file next to it, rename it into place (editors)
//   - truncate: open it with O_TRUNC and write the new content (same inode)
//   - symlink:  Kubernetes ConfigMap style: the file is a link to
//     ..data/<file>, ..data is a link to a versioned directory, and a new
//     version is written in a new directory and swapped in by renaming a
//     new ..data link over the old one
//
// Then it sends SIGHUP to -pid, except every -watch-every'th change (and
// every change without -pid), which is left to gatehouse's file watcher.
// It waits for the "configuration reloaded" (or "reload rejected") line in
// gatehouse's log (-log, info level) before the next change, so every
// change is one reload, then sleeps -gap.
//
// The watcher debounces events (-debounce, gatehouse's 150 ms). When a
// SIGHUP reload is slower than that, the watcher's own (no-op) reload of
// the same change comes after it; the next change then waits until that
// is over, so that no reload can read a file while it is being written.
//
// It prints one line per change with -v, and at the end:
//
//	result changes=N reloads=N rejected=N timeouts=N took_p50_ms=.. took_max_ms=.. wall_p50_ms=.. wall_max_ms=..
//
// took is gatehouse's own "took=" (read, compile and swap); wall is from
// the change to the log line (for watcher reloads it includes the debounce).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse-proxy/gatehouse/bench/internal/ghconf"
)

var (
	dir        = flag.String("dir", "", "gatehouse's config directory")
	logFile    = flag.String("log", "", "gatehouse's log (info level)")
	pid        = flag.Int("pid", 0, "gatehouse's process id, for SIGHUP (0: watcher only)")
	host       = flag.Int("host", 49, "the host whose VirtualService changes")
	routes     = flag.Int("routes", 10, "routes of that VirtualService")
	dur        = flag.Duration("d", 0, "keep changing for this long")
	count      = flag.Int("count", 0, "stop after this many changes (0: only -d)")
	gap        = flag.Duration("gap", 50*time.Millisecond, "pause after each reload before the next change")
	watchEvery = flag.Int("watch-every", 5, "every Nth change is left to the file watcher (0: never, 1: always)")
	methods    = flag.String("methods", "rename,truncate,symlink", "ways to change the file, used in turn")
	timeout    = flag.Duration("timeout", 10*time.Second, "how long to wait for one reload")
	debounce   = flag.Duration("debounce", 150*time.Millisecond, "gatehouse's watcher debounce")
	verbose    = flag.Bool("v", false, "print one line per change")
)

func main() {
	flag.Parse()
	if *dir == "" || *logFile == "" || (*dur <= 0 && *count <= 0) {
		flag.Usage()
		os.Exit(2)
	}
	ways := strings.Split(*methods, ",")
	for _, m := range ways {
		if m != "rename" && m != "truncate" && m != "symlink" {
			fail(fmt.Errorf("-methods: unknown %q (want rename, truncate, symlink)", m))
		}
	}
	tail, err := newTail(*logFile)
	if err != nil {
		fail(err)
	}
	c := &changer{dir: filepath.Join(*dir, filepath.Dir(ghconf.VSFile(*host))), name: filepath.Base(ghconf.VSFile(*host))}
	cur, err := os.ReadFile(filepath.Join(c.dir, c.name))
	if err != nil {
		fail(err)
	}
	// Start with the version the file does not have (a run before this
	// one may have left either).
	first := 1
	if string(cur) == ghconf.VirtualService(*host, *routes, 1) {
		first = 0
	}

	var (
		changes, reloads, rejected, timeouts int
		took, wall                           []time.Duration
		by                                   = map[string]int{}
	)
	deadline := time.Time{}
	if *dur > 0 {
		deadline = time.Now().Add(*dur)
	}
	for i := 0; ; i++ {
		if (*count > 0 && i >= *count) || (!deadline.IsZero() && time.Now().After(deadline)) {
			break
		}
		method := ways[i%len(ways)]
		byWatcher := *pid == 0 || (*watchEvery > 0 && i%*watchEvery == *watchEvery-1)
		trigger := "sighup"
		if byWatcher {
			trigger = "watcher"
		}
		content := ghconf.VirtualService(*host, *routes, (first+i)%2)
		tail.poll() // skip anything logged before this change
		t0 := time.Now()
		if err := c.change(method, content); err != nil {
			fail(fmt.Errorf("change %d (%s): %w", i, method, err))
		}
		changes++
		by[method+"/"+trigger]++
		if !byWatcher {
			if err := syscall.Kill(*pid, syscall.SIGHUP); err != nil {
				fail(fmt.Errorf("SIGHUP %d: %w", *pid, err))
			}
		}
		ev, ok := tail.wait(*timeout)
		w := time.Since(t0)
		switch {
		case !ok:
			timeouts++
			fmt.Fprintf(os.Stderr, "reloader: change %d (%s, %s): no reload logged within %v\n", i, method, trigger, *timeout)
		case ev.rejected:
			rejected++
			fmt.Fprintf(os.Stderr, "reloader: change %d (%s, %s): reload rejected: %s\n", i, method, trigger, ev.line)
		default:
			reloads++
			took = append(took, ev.took)
			wall = append(wall, w)
		}
		if *verbose {
			fmt.Printf("change %d %s %s wall=%v took=%v ok=%v\n", i, method, trigger, w.Round(time.Millisecond), ev.took, ok && !ev.rejected)
		}
		next := time.Now().Add(*gap)
		if !byWatcher {
			// The watcher's debounced reload of this change fires at
			// t0+debounce unless the next change's events come first.
			// Stay clear of it: change before it fires, or after it is done.
			fire := t0.Add(*debounce)
			if next.After(fire.Add(-30*time.Millisecond)) && next.Before(fire.Add(150*time.Millisecond)) {
				next = fire.Add(150 * time.Millisecond)
			}
		}
		time.Sleep(time.Until(next))
	}
	for _, k := range slices.Sorted(maps.Keys(by)) {
		fmt.Printf("changes %s=%d\n", k, by[k])
	}
	fmt.Printf("result changes=%d reloads=%d rejected=%d timeouts=%d took_p50_ms=%s took_max_ms=%s wall_p50_ms=%s wall_max_ms=%s\n",
		changes, reloads, rejected, timeouts, pct(took, 50), pct(took, 100), pct(wall, 50), pct(wall, 100))
	if rejected+timeouts > 0 {
		os.Exit(1)
	}
}

// pct returns the p-th percentile of ds in milliseconds, "-" if empty.
func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = min(max(i, 1), len(s)) - 1
	return fmt.Sprintf("%.1f", float64(s[i])/float64(time.Millisecond))
}

// changer rewrites dir/name.
type changer struct {
	dir, name string
	gen       int    // versioned directories made by symlink
	data      string // the current versioned directory ("" before the first symlink change)
}

func (c *changer) change(method, content string) error {
	p := filepath.Join(c.dir, c.name)
	switch method {
	case "rename":
		tmp := filepath.Join(c.dir, "."+c.name+".tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, p)
	case "truncate":
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return err
		}
		_, err = io.WriteString(f, content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case "symlink":
		c.gen++
		ver := fmt.Sprintf("..v%d", c.gen)
		if err := os.Mkdir(filepath.Join(c.dir, ver), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.dir, ver, c.name), []byte(content), 0o644); err != nil {
			return err
		}
		if err := swapLink(filepath.Join(c.dir, "..data"), ver); err != nil {
			return err
		}
		// The file itself becomes a link into ..data (once; a rename
		// change replaces it with a plain file again).
		target := filepath.Join("..data", c.name)
		if t, err := os.Readlink(p); err != nil || t != target {
			if err := swapLink(p, target); err != nil {
				return err
			}
		}
		if c.data != "" {
			os.RemoveAll(filepath.Join(c.dir, c.data))
		}
		c.data = ver
		return nil
	}
	return fmt.Errorf("unknown method %q", method)
}

// swapLink points the symbolic link at p to target, atomically.
func swapLink(p, target string) error {
	tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".lnk")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// tail follows gatehouse's log for reload outcomes.
type tail struct {
	f       *os.File
	partial []byte
	events  []event
}

type event struct {
	rejected bool
	took     time.Duration
	line     string
}

func newTail(path string) (*tail, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return nil, err
	}
	return &tail{f: f}, nil
}

var tookRE = regexp.MustCompile(`\btook=([0-9.]+[a-zµ]+)`)

// poll reads what was logged since the last poll; it returns the reload
// outcomes among it, oldest first, and forgets them.
func (t *tail) poll() []event {
	buf := make([]byte, 64<<10)
	for {
		n, _ := t.f.Read(buf)
		if n == 0 {
			break
		}
		t.partial = append(t.partial, buf[:n]...)
	}
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		line := string(t.partial[:i])
		t.partial = t.partial[i+1:]
		switch {
		case strings.Contains(line, "configuration reloaded"):
			ev := event{line: line}
			if m := tookRE.FindStringSubmatch(line); m != nil {
				ev.took, _ = time.ParseDuration(m[1])
			}
			t.events = append(t.events, ev)
		case strings.Contains(line, "reload rejected"):
			t.events = append(t.events, event{rejected: true, line: line})
		}
	}
	out := t.events
	t.events = nil
	return out
}

// wait waits up to d for the next reload outcome.
func (t *tail) wait(d time.Duration) (event, bool) {
	end := time.Now().Add(d)
	for {
		if evs := t.poll(); len(evs) > 0 {
			if len(evs) > 1 {
				fmt.Fprintf(os.Stderr, "reloader: %d reloads logged for one change\n", len(evs))
			}
			return evs[len(evs)-1], true
		}
		if time.Now().After(end) {
			return event{}, false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "reloader:", err)
	os.Exit(1)
}
