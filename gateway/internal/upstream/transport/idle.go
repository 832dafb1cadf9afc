package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// streamIdle is the stream idle timeout of an exchange on an engine whose
// connections gatehouse does not read itself (HTTP/2 upstreams, net/http's
// client): a context cancelled with ErrStreamIdle once the timeout passes
// with nothing moving either way. gatehouse's own HTTP/1.1 client uses the
// connection's read deadline instead (Request.touchUpstream).
type streamIdle struct {
	t      *time.Timer
	d      time.Duration
	cancel context.CancelCauseFunc
}

func withStreamIdle(ctx context.Context, d time.Duration) (context.Context, *streamIdle) {
	ctx, cancel := context.WithCancelCause(ctx)
	si := &streamIdle{d: d, cancel: cancel}
	si.t = time.AfterFunc(d, func() { cancel(ErrStreamIdle) })
	return ctx, si
}

// touch restarts the wait; nil-safe.
func (si *streamIdle) touch() {
	if si != nil {
		si.t.Reset(si.d)
	}
}

// stop ends the wait and releases the context; nil-safe.
func (si *streamIdle) stop() {
	if si != nil {
		si.t.Stop()
		si.cancel(nil)
	}
}

// idleBody moves the stream idle timeout on with every read of the
// response body, and ends it with the body.
type idleBody struct {
	io.ReadCloser
	si *streamIdle
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.si.touch()
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.si.t.Stop()
	}
	return n, err
}

func (b *idleBody) Close() error {
	err := b.ReadCloser.Close()
	b.si.stop()
	return err
}

// idleExchange runs one exchange of a net/http-based engine under the
// stream idle timeout of o: the wait for the head, and each read of the
// body, end with ErrStreamIdle when nothing moved for that long.
func idleExchange(ctx context.Context, o *Request, rt func(context.Context) (*http.Response, error)) (*http.Response, error) {
	if o.StreamIdle <= 0 {
		return rt(ctx)
	}
	ctx, si := withStreamIdle(ctx, o.StreamIdle)
	o.idle = si
	resp, err := rt(ctx)
	if err != nil {
		si.stop()
		if errors.Is(context.Cause(ctx), ErrStreamIdle) {
			return nil, ErrStreamIdle
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		si.t.Stop() // the tunnel has its own idle limit; the context lives on with it
		return resp, nil
	}
	resp.Body = &idleBody{ReadCloser: resp.Body, si: si}
	return resp, nil
}
