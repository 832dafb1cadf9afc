package accesslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testSink collects writes; with gate set, every Write first waits for it.
type testSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	entered chan struct{} // closed on the first Write
	once    sync.Once
	gate    chan struct{}
	fail    bool
}

func newTestSink(gated bool) *testSink {
	s := &testSink{entered: make(chan struct{})}
	if gated {
		s.gate = make(chan struct{})
	}
	return s
}

func (s *testSink) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.entered) })
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return 0, errors.New("disk full")
	}
	return s.buf.Write(p)
}

func (s *testSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// within fails the test if ch is not ready soon: guards against a hang,
// it is not a sleep.
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: timed out", what)
	}
}

func testLog(t *testing.T, encoding, format string, sink *testSink, depth int) *Writer {
	t.Helper()
	f, err := NewFormat(encoding, format)
	if err != nil {
		t.Fatal(err)
	}
	return startWriter("test", f, sink, nil, depth)
}

func TestAccessLogNeverBlocks(t *testing.T) {
	sink := newTestSink(true) // blocks until released
	l := testLog(t, "TEXT", "%REQ(X-REQUEST-ID)%", sink, 4)
	e := proxied()
	l.Log(e)
	within(t, sink.entered, "first write") // the writer now holds line 1, stuck in Write

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 4+5; i++ { // 4 fit the queue, 5 are dropped
			l.Log(e)
		}
	}()
	within(t, done, "Log with a blocked sink")
	if got := l.Dropped(); got != 5 {
		t.Errorf("Dropped = %d, want 5", got)
	}

	close(sink.gate)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(sink.String(), "\n"); n != 5 {
		t.Errorf("wrote %d lines, want 5 (1 in flight + 4 queued)", n)
	}
	l.Log(e) // after Close: dropped, no panic
	if got := l.Dropped(); got != 6 {
		t.Errorf("Dropped after Close = %d, want 6", got)
	}
}

func TestAccessLogCloseGivesUpOnBlockedSink(t *testing.T) {
	sink := newTestSink(true)
	l := testLog(t, "TEXT", "", sink, 4)
	l.closeWait = 20 * time.Millisecond
	l.Log(proxied())
	within(t, sink.entered, "first write")
	if err := l.Close(); err == nil || !strings.Contains(err.Error(), "sink blocked") {
		t.Fatalf("Close with a stuck sink = %v", err)
	}
	close(sink.gate) // let the writer finish and exit
	within(t, l.done, "writer exit")
}

func TestAccessLogWriteErrorsCountAsDropped(t *testing.T) {
	sink := newTestSink(false)
	sink.fail = true
	l := testLog(t, "TEXT", "", sink, 16)
	l.Log(proxied())
	l.Log(proxied())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Dropped() != 2 {
		t.Errorf("Dropped = %d, want 2", l.Dropped())
	}
}

func TestAccessLogReopenAfterRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := Open(path, "TEXT", "%REQ(X-REQUEST-ID)%")
	if err != nil {
		t.Fatal(err)
	}
	e := proxied()
	e.RequestID = "before"
	l.Log(e)
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil { // SIGUSR1
		t.Fatal(err)
	}
	e.RequestID = "after"
	l.Log(e)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fileIs(t, path+".1", "before\n")
	fileIs(t, path, "after\n")
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o137 != 0 {
		t.Errorf("mode = %v, %v; want at most 0640", st.Mode(), err)
	}
	if err := l.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen after Close = %v", err)
	}
}

// A failed reopen keeps writing to the file already open.
func TestAccessLogReopenFailureKeepsOldFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	os.Mkdir(dir, 0o755)
	path := filepath.Join(dir, "access.log")
	l, err := Open(path, "TEXT", "%REQ(X-REQUEST-ID)%")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	old, _ := os.Open(path) // keeps the inode readable after the dir is gone
	defer old.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Fatal("Reopen into a removed directory: no error")
	}
	l.Log(proxied())
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(old.Fd())))
	if b == nil { // no /proc: read through the descriptor instead
		b = make([]byte, 256)
		n, _ := old.Read(b)
		b = b[:n]
	}
	if string(b) != proxied().RequestID+"\n" || l.Dropped() != 0 {
		t.Errorf("old file has %q, dropped %d", b, l.Dropped())
	}
}

func fileIs(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != want {
		t.Errorf("%s = %q, %v; want %q", path, b, err, want)
	}
}

func TestAccessLogConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := Open(path, "JSON", "")
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := proxied()
			e.RequestID = "w" + strconv.Itoa(w)
			for i := 0; i < each; i++ {
				e.BytesSent = int64(i)
				l.Log(e)
			}
		}()
	}
	stop := make(chan struct{})
	rotated := make(chan struct{})
	go func() { // Reopen and flush while logging
		defer close(rotated)
		for {
			select {
			case <-stop:
				return
			default:
				if err := l.Reopen(); err != nil {
					t.Error(err)
					return
				}
				l.Flush()
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-rotated
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for _, ln := range lines {
		if !json.Valid([]byte(ln)) {
			t.Fatalf("torn line: %q", ln)
		}
	}
	if uint64(len(lines))+l.Dropped() != workers*each {
		t.Errorf("%d lines + %d dropped != %d", len(lines), l.Dropped(), workers*each)
	}
}

func TestAccessLogNilDisabledAndStdout(t *testing.T) {
	l, err := Open("", "JSON", "")
	if l != nil || err != nil {
		t.Fatalf("disabled = %v, %v", l, err)
	}
	l.Log(proxied()) // all nil-safe
	if l.Dropped() != 0 || l.Path() != "" || l.Reopen() != nil || l.Close() != nil {
		t.Error("nil Writer methods")
	}
	for _, p := range []string{"/dev/stdout", "/dev/stderr"} {
		l, err := Open(p, "", "")
		if err != nil || l.Path() != p || l.file != nil {
			t.Fatalf("%s: %v %v", p, l, err)
		}
		if err := l.Reopen(); err != nil {
			t.Error(err)
		}
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		if err := l.Close(); err != nil { // idempotent
			t.Error(err)
		}
	}
	if _, err := os.Stdout.Write(nil); err != nil {
		t.Errorf("Close closed stdout: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir.log"), "", ""); err == nil {
		t.Error("unopenable path: no error")
	}
}

func TestAccessLogAllocs(t *testing.T) {
	e := proxied()
	e.ReqHeader = map[string][]string{"X-Tenant": {"acme"}}
	for _, enc := range []string{"TEXT", "JSON"} {
		f, _ := NewFormat(enc, "")
		buf := make([]byte, 0, 4096)
		if n := testing.AllocsPerRun(200, func() { buf = f.Append(buf[:0], e) }); n != 0 {
			t.Errorf("%s: formatting allocates %v times", enc, n)
		}
		custom, _ := NewFormat("TEXT", `%START_TIME(%F %T.%6f)% %REQ(X-TENANT):3% %GRPC_STATUS% %DOWNSTREAM_REMOTE_PORT%`)
		if n := testing.AllocsPerRun(200, func() { buf = custom.Append(buf[:0], e) }); n != 0 {
			t.Errorf("custom: formatting allocates %v times", n)
		}
		sink := newTestSink(false)
		l := testLog(t, enc, "", sink, 1<<16)
		if n := testing.AllocsPerRun(1000, func() { l.Log(e) }); n > 1 {
			t.Errorf("%s: Log allocates %v times per line", enc, n)
		}
		l.Close()
	}
}
