// Command soak runs a gatehouse process under mixed load for a long time,
// reloading its configuration every few seconds, and samples its memory
// and goroutines: the soak test of the fault brief (no error under load
// and reloads, flat memory, no goroutine leak). Standard library only.
//
//	go build -o /tmp/gatehouse . && go run ./bench/soak -bin /tmp/gatehouse [-d 5m] [-c 32] [-reload 10s] [-sample 15s]
//
// It starts an upstream, writes a configuration (an HTTP port and a TCP
// port), starts `gatehouse run` on it, and runs -c workers until -d has
// passed: half send HTTP requests on keep-alive connections, a quarter
// open a new connection for each request, a quarter open a TCP
// connection through the TCP port and echo through it. Every -reload it
// rewrites the VirtualService (renamed into place, alternating between
// two versions that route to the same upstream), and every -sample it
// prints one line: requests so far, errors, reloads, RSS (VmRSS of the
// process) and goroutines (go_goroutines from the admin metrics). It ends
// with a "result" line (generation is the configuration generation
// gatehouse served last: 1 + the reloads it applied) and exits 1 if any
// request failed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	bin      = flag.String("bin", "", "gatehouse binary to run (required)")
	duration = flag.Duration("d", 5*time.Minute, "how long to run")
	workers  = flag.Int("c", 32, "concurrent clients")
	reload   = flag.Duration("reload", 10*time.Second, "how often the configuration is rewritten")
	sample   = flag.Duration("sample", 15*time.Second, "how often memory and goroutines are sampled")
)

// counters are what the workers report.
type counters struct {
	ok, failed, reloads atomic.Int64
	firstErr            atomic.Value
}

func (c *counters) fail(err error) {
	c.failed.Add(1)
	c.firstErr.CompareAndSwap(nil, err.Error())
}

func main() {
	flag.Parse()
	if *bin == "" {
		log.Fatal("soak: -bin is required (go build -o /tmp/gatehouse .)")
	}
	up := startUpstream()
	echo := startEcho()
	dir, err := os.MkdirTemp("", "gatehouse-soak")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	httpAddr, tcpAddr, admin := freeAddr(), freeAddr(), freeAddr()
	writeConfig(dir, httpAddr, tcpAddr, up, echo, 0)
	cmd := exec.Command(*bin, "run", "--config", dir, "--admin", admin, "--log-level", "warn", "--drain-delay", "0s")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitReady(admin)
	var c counters
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range *workers {
		wg.Go(func() { worker(i, httpAddr, tcpAddr, &c, stop) })
	}
	wg.Go(func() { reloader(dir, httpAddr, tcpAddr, up, echo, &c, stop) })
	start := time.Now()
	var rss, gor []int64
	tick := time.NewTicker(*sample)
	for done := time.After(*duration); ; {
		select {
		case <-tick.C:
			r, g := rssKiB(cmd.Process.Pid), goroutines(admin)
			rss, gor = append(rss, r), append(gor, g)
			fmt.Printf("t=%-6s requests=%d errors=%d reloads=%d rss_mib=%.1f goroutines=%d\n",
				time.Since(start).Round(time.Second), c.ok.Load(), c.failed.Load(), c.reloads.Load(), float64(r)/1024, g)
			continue
		case <-done:
		}
		break
	}
	close(stop)
	wg.Wait()
	gen := metric(admin, "gatehouse_config_generation")
	fmt.Printf("result requests=%d errors=%d reloads=%d generation=%d rss_mib_first=%.1f rss_mib_max=%.1f rss_mib_last=%.1f goroutines_first=%d goroutines_max=%d goroutines_last=%d\n",
		c.ok.Load(), c.failed.Load(), c.reloads.Load(), gen, mib(first(rss)), mib(max64(rss)), mib(last(rss)), first(gor), max64(gor), last(gor))
	if e := c.firstErr.Load(); e != nil {
		fmt.Println("first error:", e)
	}
	if c.failed.Load() > 0 {
		os.Exit(1)
	}
}

// worker runs one client until stop: keep-alive HTTP (even i), a new
// connection per request (i%4 == 1), or a TCP echo (i%4 == 3).
func worker(i int, httpAddr, tcpAddr string, c *counters, stop <-chan struct{}) {
	keep := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		select {
		case <-stop:
			return
		default:
		}
		var err error
		switch {
		case i%2 == 0:
			err = get(keep, httpAddr)
		case i%4 == 1:
			err = get(fresh, httpAddr)
		default:
			err = echoOnce(tcpAddr)
		}
		if err != nil {
			c.fail(err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c.ok.Add(1)
	}
}

func get(c *http.Client, addr string) error {
	resp, err := c.Get("http://" + addr + "/soak")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != 200 || string(b) != "soak") {
		err = fmt.Errorf("got %d %q", resp.StatusCode, b)
	}
	return err
}

func echoOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ping\n" {
		err = fmt.Errorf("echo %q", line)
	}
	return err
}

// reloader rewrites the configuration every -reload until stop.
func reloader(dir, httpAddr, tcpAddr string, up, echo int, c *counters, stop <-chan struct{}) {
	t := time.NewTicker(*reload)
	defer t.Stop()
	for v := 1; ; v++ {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		writeConfig(dir, httpAddr, tcpAddr, up, echo, v)
		c.reloads.Add(1)
	}
}

// writeConfig writes the Gateway and, renamed into place, version v of
// the VirtualService (versions differ in a header the route sets).
func writeConfig(dir, httpAddr, tcpAddr string, up, echo, v int) {
	gw := fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n"+
		"  - port: {number: %s, name: http, protocol: HTTP}\n    bind: 127.0.0.1\n    hosts: [\"*\"]\n"+
		"  - port: {number: %s, name: tcp, protocol: TCP}\n    bind: 127.0.0.1\n    hosts: [\"*\"]\n", port(httpAddr), port(tcpAddr))
	vs := fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n"+
		"  http:\n  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n    headers: {request: {set: {x-soak-version: \"%d\"}}}\n"+
		"  tcp:\n  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n", up, v%2, echo)
	must(os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(gw), 0o644))
	tmp := filepath.Join(dir, ".vs.yaml.tmp")
	must(os.WriteFile(tmp, []byte(vs), 0o644))
	must(os.Rename(tmp, filepath.Join(dir, "vs.yaml")))
}

func startUpstream() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "soak") }))
	return ln.Addr().(*net.TCPAddr).Port
}

func startEcho() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// freeAddr is a loopback address nobody listens on right now.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(admin string) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + admin + "/healthz/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	log.Fatal("soak: gatehouse never became ready")
}

// rssKiB is the resident set of process pid, from /proc (0 elsewhere).
func rssKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	return 0
}

// goroutines reads go_goroutines from the admin metrics (-1 on failure).
func goroutines(admin string) int64 { return metric(admin, "go_goroutines") }

// metric reads one unlabelled metric from the admin endpoint.
func metric(admin, name string) int64 {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			n, _ := strconv.ParseFloat(rest, 64)
			return int64(n)
		}
	}
	return -1
}

func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func first(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func last(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func max64(v []int64) int64 {
	var m int64
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
