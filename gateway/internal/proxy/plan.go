package proxy

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// planKind is what a matched route does with a request.
type planKind uint8

const (
	planForward   planKind = iota // forward to cluster
	planAbort                     // the fault's abort answers
	planPreflight                 // the route's CORS policy answers the preflight
	planRedirect                  // redirect to location
	planDirect                    // the route's direct response
	planNoCluster                 // 503: no destination gatehouse can reach
)

// plan is the action a matched route takes for a request, and for a
// forward where to.
type plan struct {
	kind planKind
	// status is the answer's status (abort, redirect, direct response,
	// 503); grpc is a gRPC abort's status, -1 if none.
	status, grpc int
	// cors are a handled preflight's response headers.
	cors [][2]string
	// location is a redirect's Location.
	location string
	// dest and cluster are where a forward goes; path (rewritten) and
	// authority are what the upstream receives.
	dest      *router.Dest
	cluster   *upstream.Cluster
	path      string
	authority string
}

// dice are the random draws a plan depends on: whether a fault aborts
// and which weighted destination is picked.
type dice struct {
	abort uint64
	pick  uint32
}

// certainOnly is explain's dice: the least lucky abort draw, so that only
// a fault that always aborts does, and the first destination.
var certainOnly = dice{abort: 999_999}

// plan decides what the route does with the admitted, decided request, in
// the order of the filters on an Istio gateway: fault abort (after any
// delay, which the caller applies), CORS preflight, then the route's
// action.
func (rq *request) plan(rt *router.Route, roll dice) plan {
	act := rt.Action
	if status, grpc, ok := act.Fault.Abort(roll.abort); ok {
		return plan{kind: planAbort, status: status, grpc: grpc}
	}
	if act.CORS != nil && rq.method == http.MethodOptions {
		h := rq.header
		if hdr, ok := act.CORS.Preflight(rq.origin, h.Get("Access-Control-Request-Method"), h.Get("Access-Control-Request-Headers")); ok {
			return plan{kind: planPreflight, status: http.StatusOK, cors: hdr}
		}
	}
	switch act.Kind {
	case router.ActionRedirect:
		loc := act.Redirect.Location(rq.scheme, rq.authority, rq.path, rq.rawQuery, rt, 0)
		return plan{kind: planRedirect, status: act.Redirect.Code, location: loc}
	case router.ActionDirectResponse:
		return plan{kind: planDirect, status: act.DirectResponse.Status}
	}
	p := plan{kind: planForward, path: rq.path, authority: rq.authority}
	if rw := act.Rewrite; rw != nil {
		p.path = rw.Path(rq.path, rt)
	}
	p.dest = rt.Forward.Pick(roll.pick)
	if p.dest != nil {
		p.cluster = rq.snap.Cluster(p.dest.Upstream)
	}
	if p.cluster == nil {
		p.kind, p.status = planNoCluster, http.StatusServiceUnavailable
		return p
	}
	if p.dest.Authority != "" {
		p.authority = p.dest.Authority
	}
	return p
}
