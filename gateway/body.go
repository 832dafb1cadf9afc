package gateway

import (
	"bytes"
	"io"
)

// maxReplayBody is how much of a request body is kept so the request can
// be retried or mirrored. A longer body is streamed once and never retried:
// no retry is better than a truncated request.
const maxReplayBody = 64 << 10

// replayBody reads a client's request body for the first attempt while
// keeping a copy, so that later attempts can send it again.
type replayBody struct {
	src      io.Reader
	buf      bytes.Buffer
	overflow bool // more than maxReplayBody was read: not replayable
	eof      bool // src is exhausted
}

func newReplayBody(src io.Reader) *replayBody { return &replayBody{src: src} }

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.src.Read(p)
	if n > 0 && !b.overflow {
		if b.buf.Len()+n > maxReplayBody {
			b.overflow = true
			b.buf = bytes.Buffer{}
		} else {
			b.buf.Write(p[:n])
		}
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// replayable reports whether another attempt can send the same body.
func (b *replayBody) replayable() bool { return b == nil || !b.overflow }

// replay returns a reader that sends the body again from the start: what
// was kept, then whatever the client has not sent yet.
func (b *replayBody) replay() io.Reader {
	kept := bytes.NewReader(bytes.Clone(b.buf.Bytes()))
	if b.eof {
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
	return b.buf.Bytes(), b.eof && !b.overflow
}
