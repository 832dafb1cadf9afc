package gateway

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// cfg07Bomb is a YAML alias bomb nine levels deep, indented by indent:
// a0 holds 9 scalars and each level 9 aliases of the one below, so a9
// expands to 9^10 scalars.
func cfg07Bomb(indent string) string {
	var b strings.Builder
	b.WriteString(indent + "a0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		ref := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&b, "%sa%d: &a%d [%s]\n", indent, i, i, strings.TrimSuffix(strings.Repeat(ref+", ", 9), ", "))
	}
	return b.String()
}

// cfg07EnvoyFilter is an EnvoyFilter whose patch value (free-form YAML,
// decoded into maps and lists) is value, indented by 8.
func cfg07EnvoyFilter(value string) string {
	return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: hostile}
spec:
  configPatches:
  - applyTo: LISTENER
    patch:
      operation: MERGE
      value:
` + value
}

// cfg07VS is a VirtualService whose spec has the given body.
func cfg07VS(body string) string {
	return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: hostile}\nspec:\n  gateways: [gw]\n" + body
}

// heapPeak samples the heap in use every few milliseconds until stop is
// called, and returns the highest sample.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(quit)
		<-done
		return peak.Load()
	}
}

// security.md CFG-07: hostile or huge config. An alias bomb (in free-form
// YAML, where it would be expanded, and in a typed field), nesting past
// the parser's 10 000 levels, 1 000 levels where a list of names belongs,
// 1 000 levels of free-form nesting (the cap is 100), 100 000 hosts in a
// VirtualService or a Gateway (the cap is 10 000), a 50 MiB file (the cap
// is 10 MiB), and a 100 000-character regex (the cap is 1 024) are each
// rejected in well under 5 s, the heap growing by
// less than 100 MiB while the reload runs, and the last good
// configuration keeps serving. Not parallel: it measures the process's
// heap.
func TestCFG07HostileConfigRejected(t *testing.T) {
	g := startGW(t, oneRoute(startUpstream(t, named("a")), ""))
	g.waitReload()
	huge := append([]byte("# "), bytes.Repeat([]byte("x"), 50<<20)...)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"alias bomb in free-form YAML", []byte(cfg07EnvoyFilter(cfg07Bomb("        ") + "        listener_filters: *a9\n")), "excessive aliasing"},
		{"alias bomb in a typed field", []byte("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: hostile\n  bomb:\n" +
			cfg07Bomb("    ") + "spec:\n  gateways: [gw]\n  hosts: *a9\n"), "x.yaml:"},
		{"100 000 levels of nesting", []byte(cfg07EnvoyFilter("        x: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n")), "exceeded max depth"},
		{"1 000 levels of nesting for hosts", []byte(cfg07VS("  hosts: " + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + "\n")), "nesting deeper than 100 levels"},
		{"1 000 nested lists in free-form YAML", []byte(cfg07EnvoyFilter("        x: " + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + "\n")), "x.yaml:10: nesting deeper than 100 levels"},
		{"1 000 nested maps in free-form YAML", []byte(cfg07EnvoyFilter("        x: " + strings.Repeat("{a: ", 1000) + "1" + strings.Repeat("}", 1000) + "\n")), "nesting deeper than 100 levels"},
		{"a VirtualService with 100 000 hosts", []byte(cfg07VS("  hosts: [" + manyHosts(100000) + "]\n  http:\n  - route: [{destination: {host: x.example.com}}]\n")), "spec.hosts: 100000 hosts; the limit is 10000"},
		{"a Gateway with 100 000 hosts", []byte(strings.Replace(strings.Replace(httpGateway, `hosts: ["*"]`, "hosts: ["+manyHosts(100000)+"]", 1), "name: gw}", "name: gw2}", 1)), "hosts: 100000 hosts; the limit is 10000"},
		{"a 50 MiB file", huge, "file is larger than 10 MiB"},
		{"a 100 000-character regex", []byte(cfg07VS("  hosts: [x.example.com]\n  http:\n  - match: [{uri: {regex: \"" + strings.Repeat("a", 100000) +
			"\"}}]\n    route: [{destination: {host: x.example.com}}]\n")), "regex is 100000 characters long; the limit is 1024"},
	}
	for _, tc := range tests {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		stop := heapPeak()
		start := time.Now()
		if err := os.WriteFile(filepath.Join(g.dir, "x.yaml"), tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		ev := g.waitRejected()
		took, grew := time.Since(start), int64(stop())-int64(ms.HeapInuse)
		if !strings.Contains(ev.err.Error(), tc.want) || ev.gen != 1 {
			t.Errorf("%s: gen %d err %.300v, want rejected with %q", tc.name, ev.gen, ev.err, tc.want)
		}
		if took > 5*time.Second || grew > 100<<20 {
			t.Errorf("%s: rejected after %v with the heap %d MiB larger, want within 5s and 100 MiB", tc.name, took, grew>>20)
		}
		if code, body, _ := g.get(80, "", "/"); code != 200 || body != "a" {
			t.Errorf("%s: served %d %q, want the last good 200 a", tc.name, code, body)
		}
		os.Remove(filepath.Join(g.dir, "x.yaml"))
		g.waitAccepted()
	}
}

// manyHosts lists n distinct host names for a YAML flow sequence.
func manyHosts(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "h%d.example.com", i)
	}
	return b.String()
}
