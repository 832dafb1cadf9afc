package proxy

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// Limits of mirroring: a mirrored request without a route timeout gets
// defaultMirrorTimeout, and beyond maxMirrorsInFlight copies at once (a
// slow mirror under load) further copies are skipped rather than queued.
const (
	defaultMirrorTimeout = 30 * time.Second
	maxMirrorsInFlight   = 1024
)

// mirror sends fire-and-forget copies of a forwarded request to the
// route's mirrors that sample it. It runs after the client has its
// response, never delays or changes it, and discards what the mirrors
// answer. The copy carries the request as forwarded (rewritten path,
// route headers) with "-shadow" appended to the host, as Envoy does. A
// body too large to have been kept is not mirrored.
func (s *Pipeline) mirror(snap *Generation, r *downstream.Request, o *outbound, rt *router.Route, timeout time.Duration) {
	body, whole := o.replay.complete()
	for i := range rt.Mirrors {
		m := &rt.Mirrors[i]
		if !m.Sample(rand.Uint64()) {
			continue
		}
		c := snap.Cluster(m.Dest.Upstream)
		if c == nil {
			continue
		}
		if !whole {
			s.Log.Debug("request body too large to mirror", "mirror", c.Name)
			continue
		}
		if s.mirrors.Add(1) > maxMirrorsInFlight {
			s.mirrors.Add(-1)
			s.Log.Debug("mirror skipped: too many mirrored requests in flight", "mirror", c.Name)
			continue
		}
		copyReq := s.mirrorCopy(r, o, body)
		go func() {
			defer s.mirrors.Add(-1)
			s.sendMirror(c, copyReq, cmp.Or(timeout, defaultMirrorTimeout))
		}()
	}
}

// mirrorCopy snapshots what the copy needs, since the original request
// and its outbound description are reused once the handler returns.
func (s *Pipeline) mirrorCopy(r *downstream.Request, o *outbound, body []byte) *outbound {
	c := &outbound{Request: transport.Request{Fields: r.Header.Clone(), Method: o.Method, Path: o.Path, RawQuery: o.RawQuery, Host: shadowHost(o.Host),
		Extra: append([]transport.Field(nil), o.Extra...), BodyLen: int64(len(body)), ConnectTimeout: o.ConnectTimeout}}
	c.Client = c
	if len(body) > 0 {
		c.replay = newReplayBody(bytes.NewReader(bytes.Clone(body)), int64(len(body)))
		c.Body = c.replay
	}
	return c
}

func (s *Pipeline) sendMirror(c *upstream.Cluster, o *outbound, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ep := c.Pick("", nil)
	if ep == nil {
		return
	}
	resp, err := c.Send(ctx, s.Engine, ep, &o.Request)
	if err != nil {
		s.Log.Debug("mirror failed", "cluster", c.Name, "error", err)
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
}

// shadowHost appends "-shadow" to the host name, before any port.
func shadowHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
		return host[:i] + "-shadow" + host[i:]
	}
	return host + "-shadow"
}
