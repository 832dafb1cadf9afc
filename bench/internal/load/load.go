// Package load is the closed-loop load runner shared by bench/tcpload and
// bench/tlsload: a fixed number of workers repeat one operation until a
// deadline, and the result is the rate of successful operations, their
// latency percentiles and the failures grouped by kind.
//
// It is deliberately small and standard-library only, so that the load
// generator costs the same for every target peers.sh compares.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Result is the outcome of one Run.
type Result struct {
	// Ops counts the operations that succeeded before the deadline.
	Ops int64
	// Elapsed is the measured window (the requested duration).
	Elapsed time.Duration
	// Latencies of the successful operations, sorted.
	Latencies []time.Duration
	// Errors counts failures by kind ("dial: refused"); Samples keeps the
	// first message of each kind.
	Errors  map[string]int64
	Samples map[string]string
}

// Run starts workers goroutines that call op(worker) back to back until d
// has passed, and returns what happened within d. An operation still in
// flight at the deadline is allowed to finish (op bounds itself with its
// own timeout) but is not counted. After a failure a worker pauses for a
// millisecond, so that a target refusing connections is not spun against.
func Run(workers int, d time.Duration, op func(worker int) error) Result {
	type acc struct {
		lat  []time.Duration
		errs map[string]int64
		smp  map[string]string
	}
	accs := make([]acc, workers)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			a := &accs[w]
			a.lat = make([]time.Duration, 0, 4096)
			a.errs = map[string]int64{}
			a.smp = map[string]string{}
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := op(w)
				t1 := time.Now()
				if t1.After(end) {
					return
				}
				if err != nil {
					k := Kind(err)
					a.errs[k]++
					if _, ok := a.smp[k]; !ok {
						a.smp[k] = err.Error()
					}
					time.Sleep(time.Millisecond)
					continue
				}
				a.lat = append(a.lat, t1.Sub(t0))
			}
		})
	}
	wg.Wait()
	r := Result{Elapsed: d, Errors: map[string]int64{}, Samples: map[string]string{}}
	n := 0
	for i := range accs {
		n += len(accs[i].lat)
	}
	r.Latencies = make([]time.Duration, 0, n)
	for i := range accs {
		r.Latencies = append(r.Latencies, accs[i].lat...)
		for k, v := range accs[i].errs {
			r.Errors[k] += v
			if _, ok := r.Samples[k]; !ok {
				r.Samples[k] = accs[i].smp[k]
			}
		}
	}
	slices.Sort(r.Latencies)
	r.Ops = int64(len(r.Latencies))
	return r
}

// Rate is successful operations per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0 < p <= 100) of the latencies,
// nearest rank, or 0 without any.
func (r Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	i := int(float64(n)*p/100+0.999999) - 1
	return r.Latencies[min(max(i, 0), n-1)]
}

// ErrorCount is the number of failed operations.
func (r Result) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Report writes the human summary, one line per error kind with a sample
// message, and last the machine-readable line peers.sh parses:
//
//	result rate=20576.3 p50_ms=0.781 p99_ms=2.420 errors=0 ops=123458
func (r Result) Report(w io.Writer, what string) {
	fmt.Fprintf(w, "%d %s in %s: %.1f/s, latency p50 %s p90 %s p99 %s max %s, %d errors\n",
		r.Ops, what, r.Elapsed, r.Rate(), ms(r.Percentile(50)), ms(r.Percentile(90)), ms(r.Percentile(99)),
		ms(r.Percentile(100)), r.ErrorCount())
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(w, "  error %-28s %8d  e.g. %s\n", k, r.Errors[k], r.Samples[k])
	}
	fmt.Fprintf(w, "result rate=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d ops=%d\n",
		r.Rate(), msf(r.Percentile(50)), msf(r.Percentile(99)), r.ErrorCount(), r.Ops)
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func ms(d time.Duration) string   { return fmt.Sprintf("%.3fms", msf(d)) }

// Stage wraps err with the step of the operation it happened in ("dial",
// "write", "read"), which Kind reports.
func Stage(stage string, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stage, err}
}

type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// Kind classifies an error as "stage: class", where class is one of
// timeout, refused, reset, broken-pipe, eof, no-ports, tls or other.
func Kind(err error) string {
	stage := "op"
	var se *stageError
	if errors.As(err, &se) {
		stage = se.stage
	}
	return stage + ": " + class(err)
}

func class(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken-pipe"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no-ports"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case strings.Contains(err.Error(), "tls:"):
		return "tls"
	}
	return "other"
}

// ParseSize parses a byte count with an optional binary suffix: "2GiB",
// "512MiB", "64KiB", "1048576".
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
