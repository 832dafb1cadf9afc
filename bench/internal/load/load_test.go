package load

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	r := Run(4, 100*time.Millisecond, func(w int) error {
		time.Sleep(time.Millisecond)
		if w == 0 {
			return Stage("dial", syscall.ECONNREFUSED)
		}
		return nil
	})
	if r.Ops == 0 || r.Rate() <= 0 {
		t.Fatalf("no operations counted: %+v", r.Ops)
	}
	if r.Errors["dial: refused"] == 0 || len(r.Errors) != 1 {
		t.Errorf("errors %v, want only dial: refused", r.Errors)
	}
	if p := r.Percentile(50); p < time.Millisecond || p > 50*time.Millisecond {
		t.Errorf("p50 %s, want about 1ms", p)
	}
	var b strings.Builder
	r.Report(&b, "ops")
	if !strings.Contains(b.String(), "\nresult rate=") || !strings.Contains(b.String(), "dial: refused") {
		t.Errorf("report:\n%s", b.String())
	}
}

func TestPercentile(t *testing.T) {
	r := Result{}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 99: 99, 100: 100, 1: 1} {
		if got := r.Percentile(p); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
	if (Result{}).Percentile(50) != 0 {
		t.Error("empty percentile not 0")
	}
}

func TestKind(t *testing.T) {
	for err, want := range map[error]string{
		Stage("read", io.ErrUnexpectedEOF):                              "read: eof",
		Stage("write", fmt.Errorf("x: %w", syscall.ECONNRESET)):         "write: reset",
		errors.New("boom"):                                              "op: other",
		Stage("handshake", errors.New("tls: handshake failure")):        "handshake: tls",
		Stage("dial", fmt.Errorf("connect: %w", syscall.EADDRNOTAVAIL)): "dial: no-ports",
	} {
		if got := Kind(err); got != want {
			t.Errorf("Kind(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"2GiB": 2 << 30, "512MiB": 512 << 20, "64K": 64 << 10, "1000": 1000} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2x", "-1", "GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}
