package proxy

import (
	"bytes"
	"io"
	"sync/atomic"
)

// MaxReplayBody is how much of a request body is kept so the request can
// be retried or mirrored. A longer body is streamed once and never retried:
// no retry is better than a truncated request.
const MaxReplayBody = 64 << 10

// replayBody reads a client's request body for the first attempt while
// keeping a copy, so that later attempts can send it again. One goroutine
// reads it at a time; the flags may be looked at from another.
type replayBody struct {
	src      io.Reader
	size     int64 // the declared length, -1 when unknown (chunked)
	read     int64
	buf      bytes.Buffer
	overflow atomic.Bool // more than maxReplayBody was read: not replayable
	eof      atomic.Bool // src is exhausted (set after the last bytes are kept)
	touched  atomic.Bool // something was read
}

func newReplayBody(src io.Reader, size int64) *replayBody { return &replayBody{src: src, size: size} }

func (b *replayBody) Read(p []byte) (int, error) {
	b.touched.Store(true)
	n, err := b.src.Read(p)
	if n > 0 && !b.overflow.Load() {
		if b.buf.Len()+n > MaxReplayBody {
			b.overflow.Store(true)
			b.buf = bytes.Buffer{}
		} else {
			b.buf.Write(p[:n])
		}
	}
	b.read += int64(n)
	// A body of declared length is complete when that much has been read:
	// the writer stops there and never sees io.EOF.
	if err == io.EOF || (b.size >= 0 && b.read >= b.size) {
		b.eof.Store(true)
	}
	return n, err
}

// replayable reports whether another attempt can send the same body:
// nothing was read yet, or all of it was read and kept. A body read only
// in part may still be read by the previous attempt's writer (net/http's
// transports return before their writer stops), so it is not shared.
func (b *replayBody) replayable() bool {
	return b == nil || !b.touched.Load() || (b.eof.Load() && !b.overflow.Load())
}

// replay returns a reader that sends the body again from the start: what
// was kept, then whatever the client has not sent yet.
func (b *replayBody) replay() io.Reader {
	kept := bytes.NewReader(bytes.Clone(b.buf.Bytes()))
	if b.eof.Load() {
		return kept
	}
	return io.MultiReader(kept, b)
}

// complete returns the whole body when it has been read to the end and
// kept, for mirroring.
func (b *replayBody) complete() ([]byte, bool) {
	if b == nil {
		return nil, true
	}
	return b.buf.Bytes(), b.eof.Load() && !b.overflow.Load()
}
