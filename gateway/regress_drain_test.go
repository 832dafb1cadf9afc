package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Regression (found in review): a Reload that runs while Run is draining (SIGHUP, or the watcher
// already inside Reload) sees no listeners and binds every port again;
// the new listeners outlive Run.
func TestRegressionReloadDuringDrainRebinds(t *testing.T) {
	release := make(chan struct{})
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	dir := t.TempDir()
	for n, d := range oneRoute(port, "") {
		os.WriteFile(filepath.Join(dir, n), []byte(d), 0o644)
	}
	srv, err := New(Options{ConfigPaths: []string{dir}, ListenAddr: func(string, uint32) string { return "127.0.0.1:0" },
		Logger: slog.New(slog.DiscardHandler), DrainTimeout: 2 * time.Second, Settle: time.Hour, DrainDelay: new(time.Duration)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Serving()
	addr := srv.Addr(80).String()
	go http.Get("http://" + addr + "/") // in flight: keeps the drain going
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond)
	os.WriteFile(filepath.Join(dir, "vs.yaml"), []byte(oneRoute(port, "    timeout: 5s\n")["vs.yaml"]), 0o644)
	if err := srv.Reload(); err == nil {
		t.Error("a reload during shutdown was applied")
	}
	close(release)
	<-done
	if a := srv.Addr(80); a != nil {
		c, err := net.Dial("tcp", a.String())
		if err == nil {
			c.Close()
		}
		t.Errorf("after Run returned, port 80 is served again on %s (dial err %v)", a, err)
	}
}
