package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Istio-compatible access logs (meshConfig accessLogFile / accessLogEncoding /
// accessLogFormat). The line formats live in accesslog_format.go; this file is
// the non-blocking writer.

const (
	accessLogQueueDepth = 8192     // lines waiting for the writer before Log drops
	accessLogBatchBytes = 64 << 10 // the writer issues one write per batch
	accessLogMaxPooled  = 64 << 10 // larger line buffers are not kept in the pool
	accessLogCloseWait  = 5 * time.Second
)

var errAccessLogClosed = errors.New("access log: closed")

// alBuf is a line buffer whose first 1 KiB needs no second allocation, so
// even a pool miss (lines in flight, GC, -race) costs Log one allocation
// for a typical line. A stalled sink holds at most depth of them (~8 MiB).
type alBuf struct {
	b   []byte
	arr [1024]byte
}

// accessLogBufs holds line buffers; Log takes one, the writer returns it.
var accessLogBufs = sync.Pool{New: func() any { x := new(alBuf); x.b = x.arr[:0]; return x }}

func accessLogPutBuf(x *alBuf) {
	if cap(x.b) <= accessLogMaxPooled {
		x.b = x.b[:0]
		accessLogBufs.Put(x)
	}
}

// accessLog writes access-log lines without ever blocking a request: lines
// go through a bounded buffer to one writer goroutine; when the sink is
// slower than the traffic, lines are dropped and counted, never queued
// without bound.
type accessLog struct {
	path      string
	format    *alFormat
	queue     chan *alBuf
	ctl       chan alCtl
	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the writer has exited
	closeWait time.Duration
	closed    atomic.Bool
	dropped   atomic.Uint64
	closeErr  error // set by the writer before done is closed

	// Owned by the writer goroutine.
	w     io.Writer
	file  *os.File // nil for stdout/stderr and injected writers: never reopened or closed
	batch []byte
}

type alCtl struct {
	reopen bool // else: flush
	reply  chan error
}

// newAccessLog opens the meshConfig access log. path "" = disabled (nil,
// nil); "/dev/stdout" and "/dev/stderr" write to the process's streams;
// other paths are files opened O_APPEND|O_CREATE, mode 0640. encoding is
// TEXT (default) or JSON; format "" means Istio's default for the encoding.
// A bad format is returned as an error, nothing is opened then.
func newAccessLog(path, encoding, format string) (*accessLog, error) {
	if path == "" {
		return nil, nil
	}
	f, err := compileAccessLogFormat(encoding, format)
	if err != nil {
		return nil, err
	}
	var w io.Writer
	var file *os.File
	switch path {
	case "/dev/stdout":
		w = os.Stdout
	case "/dev/stderr":
		w = os.Stderr
	default:
		if file, err = openAccessLogFile(path); err != nil {
			return nil, err
		}
		w = file
	}
	return startAccessLog(path, f, w, file, accessLogQueueDepth), nil
}

func openAccessLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return f, nil
}

// startAccessLog starts the writer goroutine over w (tests inject sinks);
// file, if not nil, is w and is reopened and closed.
func startAccessLog(path string, f *alFormat, w io.Writer, file *os.File, depth int) *accessLog {
	l := &accessLog{
		path: path, format: f, w: w, file: file,
		queue:     make(chan *alBuf, depth),
		ctl:       make(chan alCtl),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		closeWait: accessLogCloseWait,
	}
	go l.run()
	return l
}

// Log formats e on the caller's goroutine into a pooled buffer and hands it
// to the writer without blocking; if the queue is full (or the log is
// closed) the line is dropped and counted. Nil-safe. e is not retained.
func (l *accessLog) Log(e *accessEntry) {
	if l == nil || e == nil {
		return
	}
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	x := accessLogBufs.Get().(*alBuf)
	x.b = l.format.append(x.b[:0], e)
	select {
	case l.queue <- x:
	default:
		l.dropped.Add(1)
		accessLogPutBuf(x)
	}
}

// Dropped is the number of lines lost: queue full, write errors, or logged
// after Close.
func (l *accessLog) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Path is the configured accessLogFile.
func (l *accessLog) Path() string {
	if l == nil {
		return ""
	}
	return l.path
}

// Reopen (SIGUSR1 after logrotate) writes what is queued to the old file,
// then closes it and opens the path again. If the new open fails the old
// file stays in use and the error is returned. No-op for stdout/stderr.
// It waits for the writer, so a sink stuck in a write delays it.
func (l *accessLog) Reopen() error {
	if l == nil {
		return nil
	}
	return l.control(true)
}

// flush waits until every line queued before the call has been written.
func (l *accessLog) flush() error {
	if l == nil {
		return nil
	}
	return l.control(false)
}

func (l *accessLog) control(reopen bool) error {
	if l.closed.Load() {
		return errAccessLogClosed
	}
	c := alCtl{reopen: reopen, reply: make(chan error, 1)}
	select {
	case l.ctl <- c:
		return <-c.reply
	case <-l.done:
		return errAccessLogClosed
	}
}

// Close writes what is queued, closes the file (never stdout/stderr) and
// stops the writer. Lines logged concurrently with Close may be lost. If
// the sink stays blocked for 5s Close gives up and returns an error (the
// writer exits once the sink unblocks). Idempotent and nil-safe.
func (l *accessLog) Close() error {
	if l == nil {
		return nil
	}
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(l.stop)
	t := time.NewTimer(l.closeWait)
	defer t.Stop()
	select {
	case <-l.done:
		return l.closeErr
	case <-t.C:
		return fmt.Errorf("access log %s: sink blocked for %v; %d queued lines not written", l.path, l.closeWait, len(l.queue))
	}
}

func (l *accessLog) run() {
	defer close(l.done)
	for {
		select {
		case x := <-l.queue:
			l.take(x)
			// Batch whatever else is already queued, up to one batch.
			for more := true; more && len(l.batch) < accessLogBatchBytes; {
				select {
				case x := <-l.queue:
					l.take(x)
				default:
					more = false
				}
			}
			l.write()
		case c := <-l.ctl:
			l.drain()
			var err error
			if c.reopen {
				err = l.reopen()
			}
			c.reply <- err
		case <-l.stop:
			l.drain()
			if l.file != nil {
				l.closeErr = l.file.Close()
			}
			return
		}
	}
}

// drain writes the lines queued now (not those arriving meanwhile, so a
// steady stream cannot starve a Reopen or Close).
func (l *accessLog) drain() {
	for n := len(l.queue); n > 0; n-- {
		l.take(<-l.queue)
		if len(l.batch) >= accessLogBatchBytes {
			l.write()
		}
	}
	l.write()
}

func (l *accessLog) take(x *alBuf) {
	l.batch = append(l.batch, x.b...)
	accessLogPutBuf(x)
}

func (l *accessLog) write() {
	if len(l.batch) == 0 {
		return
	}
	n, err := l.w.Write(l.batch)
	if err != nil {
		if n < 0 || n > len(l.batch) {
			n = 0
		}
		l.dropped.Add(uint64(bytes.Count(l.batch[n:], []byte{'\n'})))
	}
	if cap(l.batch) > 4*accessLogBatchBytes {
		l.batch = nil // one huge line must not pin memory
	} else {
		l.batch = l.batch[:0]
	}
}

func (l *accessLog) reopen() error {
	if l.file == nil {
		return nil
	}
	f, err := openAccessLogFile(l.path)
	if err != nil {
		return err
	}
	old := l.file
	l.file, l.w = f, f
	return old.Close()
}
