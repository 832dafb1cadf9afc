package proxy

import (
	"context"
	"math/rand/v2"
	"net"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy/relay"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
	"github.com/gatehouse-proxy/gatehouse/router"
	"github.com/pires/go-proxyproto"
)

// forwardTCP connects c to an endpoint of the route's destination and
// copies bytes both ways until both sides have finished, keeping
// half-closes: when one side stops sending, the other is told and may
// still answer. The copy is spliced in the kernel where it can. sni is the
// connection's server name, for the access log.
func (s *Pipeline) forwardTCP(c net.Conn, f *router.Forward, snap *Generation, sni string) {
	defer c.Close()
	var e *accesslog.Entry
	if snap.AccessLog != nil {
		e = tcpEntry(c, sni)
		defer snap.AccessLog.Log(e)
		defer func() { e.Duration = time.Since(e.Start) }()
	}
	d := f.Pick(rand.Uint32())
	var cl *upstream.Cluster
	if d != nil {
		cl = snap.Cluster(d.Upstream)
	}
	var ep *upstream.Endpoint
	if cl != nil {
		ep = cl.Pick("", nil)
	}
	if ep == nil {
		e.Note("UH", "no_healthy_upstream")
		s.Metrics.TCPFailed(serviceOf(cl), "UH")
		return
	}
	e.SetUpstream(cl.Name, ep.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), cl.ConnectTimeout)
	up, err := ep.Pool.Connect(ctx, cl.ConnectTimeout)
	cancel()
	if err != nil {
		cl.Observe(ep, nil, &transport.ConnectError{Err: err})
		e.Note("UF", "upstream_reset_before_response_started{connection_failure}")
		s.Metrics.TCPFailed(serviceOf(cl), "UF")
		s.Log.Debug("TCP upstream connect failed", "cluster", cl.Name, "endpoint", ep.Addr, "error", err)
		return
	}
	defer up.Close()
	var received, sent int64
	mt := s.Metrics.TCPOpen(cl.Host)
	defer func() { mt.Closed(received, sent) }()
	if e != nil {
		e.UpstreamLocal = up.LocalAddr().String()
	}
	if cl.SendProxy != 0 {
		h := proxyproto.HeaderProxyFromAddrs(cl.SendProxy, c.RemoteAddr(), c.LocalAddr())
		if _, err := h.WriteTo(up); err != nil {
			return
		}
	}
	s.tunnels.Add(c)
	defer s.tunnels.Remove(c)
	idle := cl.Limits.IdleTimeout
	if idle == 0 {
		idle = relay.DefaultTCPIdleTimeout
	}
	defer relay.WatchIdle(c, up, idle)()
	if d := cl.Limits.MaxConnDuration; d > 0 {
		// connectionPool.tcp.maxConnectionDuration: the forwarded
		// connection ends then, busy or not.
		t := time.AfterFunc(d, func() {
			c.Close()
			up.Close()
		})
		defer t.Stop()
	}
	defer ep.Hold()()
	done := make(chan struct{})
	go func() {
		received = relay.Pipe(up, c)
		close(done)
	}()
	sent = relay.Pipe(c, up)
	<-done
	if e != nil {
		e.BytesReceived, e.BytesSent = received, sent
	}
}
