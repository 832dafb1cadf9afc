package relay

import (
	"io"
	"net"
	"sync"
)

// halfCloser is a connection whose sending side can be closed alone.
type halfCloser interface{ CloseWrite() error }

// Pipe copies src to dst, then half-closes dst so the other side sees the
// end of this direction while the opposite one keeps flowing. If dst cannot
// half-close, it is closed. It returns the number of bytes copied.
func Pipe(dst io.WriteCloser, src io.Reader) int64 {
	bp := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(dst, src, *bp)
	copyBufs.Put(bp)
	if hc, ok := dst.(halfCloser); ok && err == nil {
		if hc.CloseWrite() == nil {
			return n
		}
	}
	dst.Close()
	return n
}

var _ halfCloser = (*net.TCPConn)(nil)

// copyBufs holds the 32 KiB buffers bodies are copied through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// GetBuffer returns a 32 KiB copy buffer; PutBuffer gives it back.
func GetBuffer() *[]byte { return copyBufs.Get().(*[]byte) }

// PutBuffer returns a buffer GetBuffer gave.
func PutBuffer(b *[]byte) { copyBufs.Put(b) }
