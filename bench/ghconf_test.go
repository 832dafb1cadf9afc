package bench

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/bench/internal/ghconf"
)

// TestGhconfPoliciesAndAccessLog runs a gateway on peers.sh's HTTP config
// (policies on, access log on, and the reload scenario's second version
// of the measured VirtualService): the token passes, no token is refused,
// and requests are logged.
func TestGhconfPoliciesAndAccessLog(t *testing.T) {
	up := helloUpstream(t)
	sec, tok, err := ghconf.Security(nil)
	if err != nil {
		t.Fatal(err)
	}
	alog := filepath.Join(t.TempDir(), "access.log")
	files := ghconf.Mesh(alog, "JSON")
	for k, v := range sec {
		files[k] = v
	}
	files[ghconf.VSFile(RealisticHosts-1)] = ghconf.VirtualService(RealisticHosts-1, RoutesPerHost, 1)
	var logs bytes.Buffer
	base := startGateway(t, strings.TrimPrefix(up.URL, "http://"), false,
		slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}), files)
	c := client(t)
	for range 3 {
		if err := get(c, base, "Authorization", "Bearer "+tok); err != nil {
			t.Fatalf("with the token: %v", err)
		}
	}
	if err := get(c, base); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("without a token: %v, want 403", err)
	}
	req, _ := http.NewRequest("GET", base+"/reload-b", nil)
	req.Host = MeasuredHost
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := c.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
		t.Errorf("/reload-b: %d, want 200 (routed by version 1 only)", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(alog)
		if n := bytes.Count(data, []byte("\n")); n >= 5 {
			if !bytes.Contains(data, []byte(`"response_code":200`)) || !bytes.Contains(data, []byte(`"response_code":403`)) {
				t.Errorf("access log:\n%s", data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log has %q after 5s, want 5 lines", data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if logs.Len() > 0 {
		t.Errorf("the gateway logged warnings:\n%s", logs.String())
	}
}
