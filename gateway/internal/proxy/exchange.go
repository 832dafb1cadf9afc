package proxy

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// exchange is one forwarded request: its attempts under the route's retry
// policy, each to an endpoint not tried before when the cluster has one.
type exchange struct {
	s      *Pipeline
	w      downstream.ResponseWriter
	r      *downstream.Request
	o      *outbound
	c      *upstream.Cluster
	policy *router.RetryPolicy
	took   time.Duration // time to the final response head
	tried  []*upstream.Endpoint
	// triedBuf holds the first attempts' endpoints without an allocation.
	triedBuf [2]*upstream.Endpoint
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
	x.tried = x.triedBuf[:0]
	key, setCookie := x.c.Hash.Key(x.r)
	x.setCookie = setCookie
	for attempt := 0; ; attempt++ {
		ep := x.c.Pick(key, x.tried)
		if ep == nil {
			return nil, nil, transport.ErrNoHealthy
		}
		x.tried = append(x.tried, ep)
		x.o.Extra[attemptHdr].Value = strconv.Itoa(attempt + 1)
		tctx, cancel := ctx, context.CancelFunc(nil)
		if pt := x.perTry(); pt > 0 {
			tctx, cancel = context.WithTimeoutCause(ctx, pt, errPerTryTimeout)
		}
		start := time.Now()
		resp, err := x.c.Send(tctx, x.s.Engine, ep, &x.o.Request)
		x.took = time.Since(start)
		x.c.Observe(ep, resp, err)
		if !x.retry(attempt, ctx, tctx, resp, err) {
			switch {
			case cancel == nil:
			case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
				// The per-try timeout bounds the body too: it ends with it.
				resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			default:
				cancel()
			}
			return resp, ep, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		if cancel != nil {
			cancel()
		}
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
