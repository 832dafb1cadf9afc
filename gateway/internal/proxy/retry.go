package proxy

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// errPerTryTimeout ends an attempt that outlived the route's perTryTimeout.
var errPerTryTimeout = errors.New("per-try timeout")

// exchange is one forwarded request: its attempts under the route's retry
// policy, each to an endpoint not tried before when the cluster has one.
type exchange struct {
	s      *Pipeline
	w      http.ResponseWriter
	r      *http.Request
	o      *outbound
	c      *upstream.Cluster
	policy *router.RetryPolicy
	took   time.Duration // time to the final response head
	tried  []*upstream.Endpoint
	// setCookie is the consistent-hash cookie made up for a client that
	// had none, to send back with the response.
	setCookie string
	retrying  bool // holds a slot of the cluster's retry budget
}

// run sends attempts until one gives a response to relay or an error to
// report. The returned response's body must be closed.
func (x *exchange) run(ctx context.Context) (*http.Response, *upstream.Endpoint, error) {
	attemptHdr := len(x.o.Extra)
	x.o.Add("X-Envoy-Attempt-Count", "1")
	key, setCookie := x.c.Hash.Key(x.r)
	x.setCookie = setCookie
	for attempt := 0; ; attempt++ {
		ep := x.c.Pick(key, x.tried)
		if ep == nil {
			return nil, nil, transport.ErrNoHealthy
		}
		x.tried = append(x.tried, ep)
		x.o.Extra[attemptHdr].Value = strconv.Itoa(attempt + 1)
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if pt := x.perTry(); pt > 0 {
			tctx, cancel = context.WithTimeoutCause(ctx, pt, errPerTryTimeout)
		}
		start := time.Now()
		resp, err := x.c.Send(tctx, x.s.Engine, ep, &x.o.Request)
		x.took = time.Since(start)
		x.c.Observe(ep, resp, err)
		if !x.retry(attempt, ctx, tctx, resp, err) {
			if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
				resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			} else {
				cancel()
			}
			return resp, ep, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		cancel()
		if !x.retrying {
			x.retrying = true
			defer x.c.HoldRetry()() // the retry budget, held until the request ends
		}
		if !sleepCtx(ctx, x.policy.Backoff(attempt+1, rand.Uint64())) {
			return nil, ep, context.Cause(ctx)
		}
		x.o.Rewind()
	}
}

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
