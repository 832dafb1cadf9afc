package listener

import (
	"testing"
	"time"
)

// A flood of refusals is logged a burst at a time: the log stays bounded
// and says how many lines it held back.
func TestRefusalLogIsRateLimited(t *testing.T) {
	l := NewLogLimiter(time.Hour, 3)
	written := 0
	for range 100 {
		if ok, _ := l.Allow(); ok {
			written++
		}
	}
	if written != 3 {
		t.Fatalf("%d of 100 lines written, want the burst of 3", written)
	}
	l.lim.SetLimit(1e9) // the next interval
	if ok, held := l.Allow(); !ok || held != 97 {
		t.Fatalf("after the interval: allow = %v, held back %d; want true, 97", ok, held)
	}
}
