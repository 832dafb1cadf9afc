package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// errPerTryTimeout ends an attempt that outlived the route's perTryTimeout.
var errPerTryTimeout = errors.New("per-try timeout")

func (x *exchange) perTry() time.Duration {
	if x.policy == nil {
		return 0
	}
	return x.policy.PerTryTimeout
}

// retry decides whether the outcome of attempt calls for another one: the
// policy allows it, attempts remain, the route timeout has not fired, the
// body can be sent again, the request can safely be sent twice when the
// upstream may have seen it, and the cluster's retry budget has room.
func (x *exchange) retry(attempt int, ctx, tctx context.Context, resp *http.Response, err error) bool {
	p := x.policy
	if p == nil || attempt >= p.Attempts || ctx.Err() != nil || !x.o.Replayable() {
		return false
	}
	var want bool
	switch {
	case err == nil:
		want = p.RetryResponse(resp.StatusCode, resp.Header)
	case errors.Is(context.Cause(tctx), errPerTryTimeout):
		want = p.RetryPerTryTimeout()
	case errors.As(err, new(*transport.ConnectError)):
		want = p.RetryConnectFailure()
	case errors.As(err, new(*transport.RefusedStreamError)):
		want = p.RetryRefusedStream()
	case errors.As(err, new(*transport.ClientBodyError)), errors.Is(err, transport.ErrOverflow):
		want = false
	case errors.As(err, new(*transport.RequestError)):
		want = false // another attempt would be refused the same way
	default:
		// A reset after the request went out: the upstream may have acted
		// on it, so only an idempotent request is sent again (security.md
		// UP-03; Envoy would retry a POST here too).
		want = p.RetryReset(true) && x.o.Idempotent()
	}
	return want && (x.retrying || x.c.AllowRetry())
}

// sleepCtx waits for d unless ctx ends first; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// cancelBody releases an attempt's per-try context once the response body
// has been relayed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
