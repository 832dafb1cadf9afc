package accesslog

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

// The non-blocking writer; the line formats are in format.go.

const (
	queueDepth       = 8192     // lines waiting for the writer before Log drops
	batchBytes       = 64 << 10 // the writer issues one write per batch
	maxPooled        = 64 << 10 // larger line buffers are not kept in the pool
	defaultCloseWait = 5 * time.Second
)

// ErrClosed is returned by Reopen and Flush after Close.
var ErrClosed = errors.New("access log: closed")

// lineBuf is a line buffer whose first 1 KiB needs no second allocation, so
// even a pool miss (lines in flight, GC, -race) costs Log one allocation
// for a typical line. A stalled sink holds at most depth of them (~8 MiB).
type lineBuf struct {
	b   []byte
	arr [1024]byte
}

// lineBufs holds line buffers; Log takes one, the writer returns it.
var lineBufs = sync.Pool{New: func() any { x := new(lineBuf); x.b = x.arr[:0]; return x }}

func putLineBuf(x *lineBuf) {
	if cap(x.b) <= maxPooled {
		x.b = x.b[:0]
		lineBufs.Put(x)
	}
}

// Writer writes access-log lines without ever blocking a request: lines
// go through a bounded buffer to one writer goroutine; when the sink is
// slower than the traffic, lines are dropped and counted, never queued
// without bound.
type Writer struct {
	path      string
	format    *Format
	queue     chan *lineBuf
	ctl       chan ctlRequest
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

type ctlRequest struct {
	reopen bool // else: flush
	reply  chan error
}

// Open opens the meshConfig access log. path "" = disabled (nil,
// nil); "/dev/stdout" and "/dev/stderr" write to the process's streams;
// other paths are files opened O_APPEND|O_CREATE, mode 0640. encoding is
// TEXT (default) or JSON; format "" means Istio's default for the encoding.
// A bad format is returned as an error, nothing is opened then.
func Open(path, encoding, format string) (*Writer, error) {
	if path == "" {
		return nil, nil
	}
	f, err := NewFormat(encoding, format)
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
		if file, err = openFile(path); err != nil {
			return nil, err
		}
		w = file
	}
	return startWriter(path, f, w, file, queueDepth), nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return f, nil
}

// startWriter starts the writer goroutine over w (tests inject sinks);
// file, if not nil, is w and is reopened and closed.
func startWriter(path string, f *Format, w io.Writer, file *os.File, depth int) *Writer {
	l := &Writer{
		path: path, format: f, w: w, file: file,
		queue:     make(chan *lineBuf, depth),
		ctl:       make(chan ctlRequest),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		closeWait: defaultCloseWait,
	}
	go l.run()
	return l
}

// Log formats e on the caller's goroutine into a pooled buffer and hands it
// to the writer without blocking; if the queue is full (or the log is
// closed) the line is dropped and counted. Nil-safe. e is not retained.
func (l *Writer) Log(e *Entry) {
	if l == nil || e == nil {
		return
	}
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	x := lineBufs.Get().(*lineBuf)
	x.b = l.format.Append(x.b[:0], e)
	select {
	case l.queue <- x:
	default:
		l.dropped.Add(1)
		putLineBuf(x)
	}
}

// Dropped is the number of lines lost: queue full, write errors, or logged
// after Close.
func (l *Writer) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Path is the configured accessLogFile.
func (l *Writer) Path() string {
	if l == nil {
		return ""
	}
	return l.path
}

// Reopen (SIGUSR1 after logrotate) writes what is queued to the old file,
// then closes it and opens the path again. If the new open fails the old
// file stays in use and the error is returned. No-op for stdout/stderr.
// It waits for the writer, so a sink stuck in a write delays it.
func (l *Writer) Reopen() error {
	if l == nil {
		return nil
	}
	return l.control(true)
}

// flush waits until every line queued before the call has been written.
func (l *Writer) Flush() error {
	if l == nil {
		return nil
	}
	return l.control(false)
}

func (l *Writer) control(reopen bool) error {
	if l.closed.Load() {
		return ErrClosed
	}
	c := ctlRequest{reopen: reopen, reply: make(chan error, 1)}
	select {
	case l.ctl <- c:
		return <-c.reply
	case <-l.done:
		return ErrClosed
	}
}

// Close writes what is queued, closes the file (never stdout/stderr) and
// stops the writer. Lines logged concurrently with Close may be lost. If
// the sink stays blocked for 5s Close gives up and returns an error (the
// writer exits once the sink unblocks). Idempotent and nil-safe.
func (l *Writer) Close() error {
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

func (l *Writer) run() {
	defer close(l.done)
	for {
		select {
		case x := <-l.queue:
			l.take(x)
			// Batch whatever else is already queued, up to one batch.
			for more := true; more && len(l.batch) < batchBytes; {
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
func (l *Writer) drain() {
	for n := len(l.queue); n > 0; n-- {
		l.take(<-l.queue)
		if len(l.batch) >= batchBytes {
			l.write()
		}
	}
	l.write()
}

func (l *Writer) take(x *lineBuf) {
	l.batch = append(l.batch, x.b...)
	putLineBuf(x)
}

func (l *Writer) write() {
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
	if cap(l.batch) > 4*batchBytes {
		l.batch = nil // one huge line must not pin memory
	} else {
		l.batch = l.batch[:0]
	}
}

func (l *Writer) reopen() error {
	if l.file == nil {
		return nil
	}
	f, err := openFile(l.path)
	if err != nil {
		return err
	}
	old := l.file
	l.file, l.w = f, f
	return old.Close()
}
