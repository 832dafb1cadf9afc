package gateway

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// The canary example does what its comments and README promise, with its
// two endpoints (127.0.0.1:9081 and :9082) swapped for real upstreams.
func TestCanaryExample(t *testing.T) {
	t.Parallel()
	var hits [2]atomic.Int32
	ports := [2]uint32{}
	for i, name := range []string{"v1", "v2"} {
		h := named(name)
		ports[i] = startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			h.ServeHTTP(w, r)
		}))
	}
	files := canaryExampleFiles(t, ports)
	g := startGW(t, files)
	const host = "shop.example.com"
	total := func() int32 { return hits[0].Load() + hits[1].Load() }

	t.Run("x-canary header always gets v2", func(t *testing.T) {
		for range 20 {
			if code, body, _ := g.get(80, host, "/", "X-Canary", "always"); code != 200 || body != "v2" {
				t.Fatalf("got %d %q, want 200 v2", code, body)
			}
		}
	})

	t.Run("plain requests split 90/10", func(t *testing.T) {
		n := map[string]int{}
		for range 1000 {
			code, body, _ := g.get(80, host, "/reviews/1")
			if code != 200 {
				t.Fatalf("status %d %q", code, body)
			}
			n[body]++
		}
		// v2 ~ Binomial(1000, 0.1): mean 100, sd 9.5.
		if n["v1"]+n["v2"] != 1000 || n["v2"] < 50 || n["v2"] > 160 {
			t.Errorf("split %v, want about 900 v1 / 100 v2", n)
		}
	})

	t.Run("x-chaos abort answers 503 without the upstream", func(t *testing.T) {
		before := total()
		for range 5 {
			code, body, _ := g.get(80, host, "/", "X-Chaos", "abort", "X-Canary", "always")
			if code != 503 || body != proxy.BodyFault {
				t.Errorf("got %d %q, want 503 %q", code, body, proxy.BodyFault)
			}
		}
		if n := total() - before; n != 0 {
			t.Errorf("the upstreams got %d aborted requests", n)
		}
	})

	t.Run("x-chaos delay holds the request 2s", func(t *testing.T) {
		start := time.Now()
		code, body, _ := g.get(80, host, "/", "X-Chaos", "delay")
		if took := time.Since(start); took < 2*time.Second || took > 5*time.Second {
			t.Errorf("took %v, want about 2s", took)
		}
		if code != 200 || body != "v1" {
			t.Errorf("got %d %q, want 200 v1", code, body)
		}
	})

	t.Run("other hosts get 404", func(t *testing.T) {
		if code, _, _ := g.get(80, "other.example.com", "/"); code != 404 {
			t.Errorf("status %d, want 404", code)
		}
	})
}

// canaryExampleFiles reads examples/canary, with the endpoint ports 9081
// (v1) and 9082 (v2) replaced by ports.
func canaryExampleFiles(t *testing.T, ports [2]uint32) map[string]string {
	t.Helper()
	const dir = "../examples/canary"
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no YAML in %s: %v", dir, err)
	}
	// One pass, so a new port containing "9082" is not replaced again.
	r := strings.NewReplacer(
		"{http: 9081}", "{http: "+strconv.Itoa(int(ports[0]))+"}",
		"{http: 9082}", "{http: "+strconv.Itoa(int(ports[1]))+"}")
	files := map[string]string{}
	replaced := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		replaced += strings.Count(s, "{http: 9081}") + strings.Count(s, "{http: 9082}")
		files[filepath.Base(p)] = r.Replace(s)
	}
	if replaced != 2 {
		t.Fatalf("found %d endpoint ports to replace in %s, want 2 ({http: 9081} and {http: 9082})", replaced, dir)
	}
	return files
}
