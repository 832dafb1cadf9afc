package main

import (
	"bytes"
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
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a command's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls out until re matches, returning the first submatch.
func waitFor(t *testing.T, out *lockedBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[len(m)-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("output never matched %s:\n%s", re, out.String())
	return ""
}

// The README's first command: the demo serves Istio's httpbin walkthrough
// with its real 4 s timeout.
func TestDemoWalkthrough(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--admin", ""}, &stdout, &stderr) }()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("demo exited %d: %s", code, stderr.String())
		}
	}()
	url := waitFor(t, &stdout, regexp.MustCompile(`walkthrough on (http://\S+)`))
	for _, tc := range []struct {
		path string
		want int
		min  time.Duration
		max  time.Duration
	}{
		{"/status/200", 200, 0, time.Second},
		{"/headers", 404, 0, time.Second},
		{"/delay/10", 504, 4 * time.Second, 5 * time.Second},
	} {
		start := time.Now()
		resp, err := http.Get(url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != tc.want || took < tc.min || took > tc.max {
			t.Errorf("GET %s = %d after %v, want %d within [%v, %v]", tc.path, resp.StatusCode, took, tc.want, tc.min, tc.max)
		}
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "gw.yaml"), []byte("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n  - port: {number: 80, name: http, protocol: HTTQ}\n    hosts: ['*']\n"), 0o644)
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"--help"}, exitOK, "Commands:"},
		{[]string{"version"}, exitOK, "gatehouse "},
		{[]string{"validate"}, exitUsage, "--config is required"},
		{[]string{"validate", "--config", "examples/quickstart"}, exitOK, "configuration is valid"},
		{[]string{"validate", "--config", bad}, exitFailure, "gw.yaml:6: Gateway default/gw: spec.servers[0].port.protocol: unknown protocol \"HTTQ\""},
		{[]string{"run", "--config", bad}, exitFailure, "gw.yaml:6: Gateway default/gw"},
		{[]string{"run", "--config", "examples/quickstart", "--log-format", "xml"}, exitUsage, "--log-format"},
		{[]string{"run", "--nope"}, exitUsage, "flag provided but not defined"},
		{[]string{"run", "--config", "examples/quickstart", "--header-timeout", "0s"}, exitUsage, "--header-timeout 0s: want a positive duration"},
		{[]string{"health", "--admin", closedAddr(t)}, exitFailure, "not ready"},
		{[]string{"explain", "--config", "examples/quickstart", "GET", "http://httpbin.example.com/status/418"}, exitOK,
			"route:    #0 default/httpbin http[0].match[0]: MATCH (uri prefix \"/status\")"},
		{[]string{"explain", "--config", "examples/quickstart", "-H", "X-Forwarded-For: 6.6.6.6", "http://x.example.com/nope"}, exitOK,
			"result:   404 (route_not_found)"},
		{[]string{"explain", "--config", "examples/quickstart"}, exitUsage, "want [METHOD] URL"},
		{[]string{"explain", "http://x/"}, exitUsage, "either --config or --admin"},
		{[]string{"explain", "-H", "novalue", "http://x/"}, exitUsage, "want \"Name: value\""},
		{[]string{"explain", "--config", bad, "http://x/"}, exitFailure, "gw.yaml:6: Gateway default/gw"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		code := run(context.Background(), tc.args, &out, &out)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("gatehouse %s = %d, output %q; want %d containing %q", strings.Join(tc.args, " "), code, out.String(), tc.code, tc.out)
		}
	}
}

// Help asked for is printed on stdout with exit 0, for every command (so
// that "gatehouse run --help | less" works); a usage mistake goes to stderr.
func TestHelpOnStdout(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		for _, h := range []string{"-h", "--help"} {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{c.name, h}, &stdout, &stderr)
			if code != exitOK || !strings.HasPrefix(stdout.String(), "Usage: gatehouse "+c.name) || stderr.Len() != 0 {
				t.Errorf("gatehouse %s %s = %d, stdout %q, stderr %q; want 0 and the usage on stdout", c.name, h, code, stdout.String(), stderr.String())
			}
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{c.name, "--no-such-flag"}, &stdout, &stderr); code != exitUsage || stdout.Len() != 0 || !strings.Contains(stderr.String(), "Usage: gatehouse "+c.name) {
			t.Errorf("gatehouse %s --no-such-flag = %d, stdout %q, stderr %q; want 2 and the usage on stderr", c.name, code, stdout.String(), stderr.String())
		}
	}
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// run serves until SIGTERM, answers health checks, and reloads on SIGHUP.
func TestRunSignals(t *testing.T) {
	dir := t.TempDir()
	port := closedAddr(t)[len("127.0.0.1:"):]
	admin := closedAddr(t)
	upstream := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") })}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go upstream.Serve(ln)
	defer upstream.Close()
	cfg := fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n  - port: {number: %s, name: http, protocol: HTTP}\n    bind: 127.0.0.1\n    hosts: ['*']\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: ['*']\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n",
		port, ln.Addr().(*net.TCPAddr).Port)
	os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(cfg), 0o644)

	var out lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"run", "--config", dir, "--admin", admin, "--drain-timeout", "2s", "--drain-delay", "500ms"}, &out, &out)
	}()
	waitFor(t, &out, regexp.MustCompile(`gatehouse serving`))
	if code := run(context.Background(), []string{"health", "--admin", admin}, io.Discard, io.Discard); code != exitOK {
		t.Errorf("health = %d, want 0", code)
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET through the gateway: %v %v", resp, err)
	}
	resp.Body.Close()
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, &out, regexp.MustCompile(`SIGHUP: reloading`))
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	// For the drain delay readiness fails while the port still serves,
	// asking clients to close their connections.
	waitFor(t, &out, regexp.MustCompile(`readiness fails; listeners accept for the drain delay`))
	if code := run(context.Background(), []string{"health", "--admin", admin}, io.Discard, io.Discard); code == exitOK {
		t.Error("health = 0 during the drain delay, want not ready")
	}
	if resp, err := http.Get("http://127.0.0.1:" + port + "/"); err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Errorf("GET during the drain delay: %v %v; want 200 with Connection: close", resp, err)
	} else {
		resp.Body.Close()
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("run exited %d after SIGTERM:\n%s", code, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop after SIGTERM")
	}
}
