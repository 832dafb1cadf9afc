package listener

import (
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// LogLimiter lets a burst of log lines through, then about one per
// interval, and counts the lines it held back, so that a flood of refused
// connections or requests can fill neither a disk nor a journal (the
// rate-limited reject log of docs/architecture.md). Safe for concurrent
// use.
type LogLimiter struct {
	lim  *rate.Limiter
	held atomic.Int64
}

func NewLogLimiter(every time.Duration, burst int) *LogLimiter {
	return &LogLimiter{lim: rate.NewLimiter(rate.Every(every), burst)}
}

// Allow reports whether a line may be written now and, if so, how many
// were held back since the last one written.
func (l *LogLimiter) Allow() (ok bool, held int64) {
	if !l.lim.Allow() {
		l.held.Add(1)
		return false, 0
	}
	return true, l.held.Swap(0)
}
