package proxy

import (
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"

	"github.com/gatehouse-proxy/gatehouse/router"
)

// serveRoute executes a matched route: the fault's delay, then the plan
// (fault abort, CORS preflight, redirect, direct response or forward).
func (s *Pipeline) serveRoute(w downstream.ResponseWriter, r *downstream.Request, rq *request, rt *router.Route) {
	act := rt.Action
	roll := dice{pick: rand.Uint32()}
	if act.Fault != nil {
		if !delayFault(w, r, act.Fault) {
			return
		}
		roll.abort = rand.Uint64()
	}
	p := rq.plan(rt, roll)
	switch p.kind {
	case planAbort:
		note(w, "FI", "fault_filter_abort")
		if p.grpc >= 0 {
			grpcReply(w, p.grpc, BodyFault)
		} else {
			localReply(w, r, p.status, BodyFault)
		}
	case planPreflight:
		setHeaders(w.Header(), p.cors)
		w.WriteHeader(http.StatusOK)
	case planRedirect:
		note(w, "", "direct_response")
		s.applyResponseEdits(w.Header(), r, act.ResponseHeaders, act.CORS, rq.origin)
		w.Header().Set("Location", p.location)
		w.WriteHeader(p.status)
	case planDirect:
		note(w, "", "direct_response")
		s.directResponse(w, r, act, rq.origin)
	case planNoCluster:
		note(w, "NC", "cluster_not_found")
		localReply(w, r, http.StatusServiceUnavailable, "")
	default:
		s.forward(w, r, rq, rt, &p)
	}
}

// delayFault applies a fault's delay, if its draw says so; it returns
// false when the client went away meanwhile.
func delayFault(w downstream.ResponseWriter, r *downstream.Request, f *router.Fault) bool {
	d := f.Delay(rand.Uint64())
	if d == 0 {
		return true
	}
	note(w, "DI", "")
	t := time.NewTimer(d)
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		t.Stop()
		return false
	}
}

// directResponse answers with the route's fixed status and body. As Envoy
// does, a body without a Content-Type set by the route is text/plain.
func (s *Pipeline) directResponse(w downstream.ResponseWriter, r *downstream.Request, act *router.Action, origin string) {
	d := act.DirectResponse
	h := w.Header()
	s.applyResponseEdits(h, r, act.ResponseHeaders, act.CORS, origin)
	if len(d.Body) > 0 {
		if h.Get("Content-Type") == "" {
			h["Content-Type"] = textPlain
		}
		h["Content-Length"] = []string{strconv.Itoa(len(d.Body))}
	}
	w.WriteHeader(d.Status)
	w.Write(d.Body)
}

// applyResponseEdits applies a route's response header operations, then
// its CORS headers.
func (s *Pipeline) applyResponseEdits(h http.Header, r *downstream.Request, ops *router.HeaderOps, cors *router.CORS, origin string) {
	if ops.Len() > 0 {
		ops.Apply(h, &fmtVars{s: s, r: r})
	}
	if cors != nil && origin != "" {
		setHeaders(h, cors.ResponseHeaders(origin))
	}
}

func setHeaders(h http.Header, kv [][2]string) {
	for _, p := range kv {
		h.Set(p[0], p[1])
	}
}

// fmtVars gives header formatters (%DOWNSTREAM_REMOTE_ADDRESS% and the
// like) their values for one request.
type fmtVars struct {
	s        *Pipeline
	r        *downstream.Request
	upstream string
}

// RequestHeader returns a request header or pseudo-header.
func (v *fmtVars) RequestHeader(name string) string {
	switch name {
	case ":authority":
		return v.r.Host
	case ":path":
		return v.r.URI()
	case ":method":
		return v.r.Method
	case ":scheme":
		return scheme(v.r)
	}
	return v.r.Header.Get(name)
}

// Var returns the value of a formatter operator.
func (v *fmtVars) Var(fv router.FormatVar) string {
	switch fv {
	case router.VarDownstreamRemoteAddress:
		return v.r.RemoteAddr
	case router.VarDownstreamRemoteAddressWithoutPort:
		return transport.HostOf(v.r.RemoteAddr)
	case router.VarDownstreamRemotePort:
		_, p, _ := net.SplitHostPort(v.r.RemoteAddr)
		return p
	case router.VarDownstreamLocalAddress, router.VarDownstreamLocalAddressWithoutPort, router.VarDownstreamLocalPort:
		return localAddrVar(v.r, fv)
	case router.VarProtocol:
		return v.r.Proto
	case router.VarUpstreamHost:
		return v.upstream
	case router.VarHostname:
		return v.s.Hostname
	case router.VarRequestedServerName:
		if v.r.TLS != nil {
			return v.r.TLS.ServerName
		}
	}
	return ""
}

// StartTime is the time %START_TIME% formats: now.
func (v *fmtVars) StartTime() time.Time { return time.Now() }

func localAddrVar(r *downstream.Request, fv router.FormatVar) string {
	if r.LocalAddr == nil {
		return ""
	}
	s := r.LocalAddr.String()
	switch fv {
	case router.VarDownstreamLocalAddressWithoutPort:
		return transport.HostOf(s)
	case router.VarDownstreamLocalPort:
		_, p, _ := net.SplitHostPort(s)
		return p
	}
	return s
}
