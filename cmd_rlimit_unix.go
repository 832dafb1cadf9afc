//go:build unix

package main

import (
	"log/slog"
	"syscall"
)

// raiseFileLimit raises the soft limit on open files to the hard limit
// (Go's runtime does so at start too, which this makes explicit and
// visible) and logs both: a gateway holds a descriptor per connection,
// and the soft limit (often 1024) is what runs out first.
func raiseFileLimit(log *slog.Logger) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		log.Warn("cannot read the open file limit", "error", err)
		return
	}
	before := r.Cur
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			log.Warn("cannot raise the open file limit", "soft", before, "hard", r.Max, "error", err)
			return
		}
	}
	log.Info("open file limit", "soft", r.Cur, "hard", r.Max, "soft_before", before)
}
