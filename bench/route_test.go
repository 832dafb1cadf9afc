package bench

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/gateway"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// TestRouteTable checks that the benchmark tables route as the benchmarks
// assume: the measured request reaches the last route of its host.
func TestRouteTable(t *testing.T) {
	tab, err := BuildRouteTable(10, RoutesPerHost, false)
	if err != nil {
		t.Fatal(err)
	}
	req := &router.Request{Method: "GET", Scheme: "http", Authority: HostName(9), Path: MeasuredPath, Header: http.Header{}}
	rt := tab.Match(req)
	if rt == nil {
		t.Fatalf("no route for %s%s", req.Authority, req.Path)
	}
	if want := fmt.Sprintf("r%d", RoutesPerHost-1); rt.Name != want {
		t.Errorf("route %q, want %q", rt.Name, want)
	}
	if n := testing.AllocsPerRun(100, func() { tab.Match(req) }); n != 0 {
		t.Errorf("Match allocates %v times, want 0", n)
	}
}

// BenchmarkRouteMatch matches a request against the last route of one host
// in tables of 10 and 10 000 hosts. Host lookup is a map, so both should
// cost the same and allocate nothing.
func BenchmarkRouteMatch(b *testing.B) {
	for _, hosts := range []int{10, 10_000} {
		tab, err := BuildRouteTable(hosts, RoutesPerHost, false)
		if err != nil {
			b.Fatal(err)
		}
		for _, host := range []struct{ name, authority string }{
			{"last-route", HostName(hosts / 2)},
			{"unknown-host", "nowhere.bench.test"},
		} {
			b.Run(fmt.Sprintf("hosts=%d/routes=%d/%s", hosts, RoutesPerHost, host.name), func(b *testing.B) {
				req := &router.Request{Method: "GET", Scheme: "http", Authority: host.authority, Path: MeasuredPath, Header: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					tab.Match(req)
				}
			})
		}
	}
}

// BenchmarkCompile10kHosts compiles 10 000 VirtualServices of ten routes
// and builds their route table (target: < 1 s), for a Gateway server of
// hosts "*" and for one that lists all 10 000 hosts.
func BenchmarkCompile10kHosts(b *testing.B) {
	for _, explicit := range []bool{false, true} {
		name := "server=wildcard"
		if explicit {
			name = "server=10k-hosts"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := BuildRouteTable(10_000, RoutesPerHost, explicit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoad10kHosts loads the realistic config shape scaled to 10 000
// hosts (10 000 VirtualService files of ten routes, one Gateway of 1 000
// servers) from disk with gateway.New: read, decode, validate, compile
// (target: < 1 s). live-MiB is the heap the loaded configuration keeps.
func BenchmarkLoad10kHosts(b *testing.B) {
	files, err := RealisticConfig(gatewayPort, 10_000, RoutesPerHost, "127.0.0.1:9")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := WriteFiles(dir, files); err != nil {
		b.Fatal(err)
	}
	opts := gateway.Options{ConfigPaths: []string{dir}, Logger: slog.New(slog.DiscardHandler)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var srv *gateway.Server
	b.ReportAllocs()
	for b.Loop() {
		srv = nil
		if srv, err = gateway.New(opts); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(srv)
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), "live-MiB")
}
