package gateway

import (
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// logLimiter lets a burst of log lines through, then about one per
// interval, and counts the lines it held back, so that a flood of refused
// connections or requests can fill neither a disk nor a journal (the
// rate-limited reject log of docs/architecture.md). Safe for concurrent
// use.
type logLimiter struct {
	lim  *rate.Limiter
	held atomic.Int64
}

func newLogLimiter(every time.Duration, burst int) *logLimiter {
	return &logLimiter{lim: rate.NewLimiter(rate.Every(every), burst)}
}

// allow reports whether a line may be written now and, if so, how many
// were held back since the last one written.
func (l *logLimiter) allow() (ok bool, held int64) {
	if !l.lim.Allow() {
		l.held.Add(1)
		return false, 0
	}
	return true, l.held.Swap(0)
}
