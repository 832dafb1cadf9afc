package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The gateway's own state is read at scrape time, and served on both
// endpoints.
func TestMetricsState(t *testing.T) {
	t.Parallel()
	loaded := false
	m := New(func() (State, bool) {
		return State{Generation: 3, ReloadOK: true, AccessLogDropped: 2,
			ActiveRequests: map[string]int64{"outbound|80||a": 4, "outbound|80||b": 0}}, loaded
	})
	if fams := gather(t, m); fams["gatehouse_config_generation"] != nil {
		t.Error("state reported before anything was loaded")
	}
	loaded = true
	fams := gather(t, m)
	for name, want := range map[string]float64{"gatehouse_config_generation": 3, "gatehouse_config_last_reload_successful": 1,
		"gatehouse_access_log_dropped_lines": 2} {
		if got := value(t, fams, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := value(t, fams, "gatehouse_upstream_active_requests", "cluster=outbound|80||a"); got != 4 {
		t.Errorf("active requests = %v, want 4", got)
	}
	mux := http.NewServeMux()
	m.Register(mux)
	for _, path := range []string{"/stats/prometheus", "/metrics"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "gatehouse_config_generation 3") {
			t.Errorf("GET %s = %d\n%s", path, rec.Code, rec.Body)
		}
	}
}

// Destination service names and namespaces come from Kubernetes service
// hosts; other hosts keep their name and an unknown namespace.
func TestDestService(t *testing.T) {
	t.Parallel()
	for host, want := range map[string][2]string{
		"httpbin.default.svc.cluster.local": {"httpbin", "default"},
		"a.b.c.svc.cluster.local":           {"a.b.c.svc.cluster.local", "unknown"},
		"api.example.com":                   {"api.example.com", "unknown"},
	} {
		if sv := newDestService(host); sv.name != want[0] || sv.namespace != want[1] {
			t.Errorf("newDestService(%q) = %s, %s; want %s, %s", host, sv.name, sv.namespace, want[0], want[1])
		}
	}
	var m *Metrics // nil-safe: a gateway without metrics
	m.RecordHTTP(nil)
	m.TCPOpen("x").Closed(1, 2)
	m.TCPFailed("x", "UH")
	m.Reloaded(true)
	m.Misdirected()
	m.SecurityResources(1)
}
