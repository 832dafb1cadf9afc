package gateway

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h1guard"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// listenerDeps is what the listeners need of s: its logger, metrics and
// limits, the listener configuration of the generation serving, and
// serving what they accept (HTTP requests go to the handler given to
// listener.New).
func (s *Server) listenerDeps() *listener.Deps {
	return &listener.Deps{
		Log: s.log, Metrics: s.metrics, RefusalLog: s.refusalLog, Idle: &s.idle,
		HeaderTimeout: s.opts.HeaderTimeout, MaxConnections: s.opts.MaxConnections, Requests: s.requests,
		Current: func(k listener.Key) (*listener.Config, any) {
			snap := s.snap.Load()
			return snap.Listeners[k], snap
		},
		Forward: s.forwardStream,
		Refused: s.logRefusal,
	}
}

// bind opens the socket for k. It serves nothing until Serve is called.
func (s *Server) bind(k listener.Key) (*listener.Listener, error) {
	network, addr := s.listenAddr(k)
	ln, err := s.opts.Listen(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	h := &httpHandler{s: s.pipe, key: k}
	h.h2c = listener.NewH2CHandler(h)
	return listener.New(k, ln, h, s.edge)
}

// forwardStream forwards a connection a listener routed by a TCP route,
// if the authorization policies allow it, in the generation the listener
// read its configuration from.
func (s *Server) forwardStream(c net.Conn, f *router.Forward, sni string, cs *tls.ConnectionState, gen any) {
	snap := &gen.(*Snapshot).Generation
	if s.pipe.allowTCP(c, snap, f, sni, cs) {
		s.pipe.forwardTCP(c, f, snap, sni)
	}
}

// logRefusal records a request the HTTP/1.1 validator refused: a counter
// by status and reason, an access-log line with Envoy's DPE flag (peer
// and PROXY-derived client address included) and a log line, both rate
// limited so that a flood of garbage cannot fill a disk.
func (s *Server) logRefusal(c net.Conn, rf *h1guard.Refusal) {
	code := strconv.Itoa(rf.Status) // "0": closed without an answer
	s.metrics.RefusedRequest(code, rf.Reason)
	ok, held := s.refusalLog.Allow()
	if !ok {
		return
	}
	snap := s.snap.Load()
	ci := listener.NewConnInfo(c)
	target := redactURI(snap.Authz, rf.Target)
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "request refused by the HTTP/1.1 parser",
		slog.Int("status", rf.Status), slog.String("reason", rf.Reason), slog.String("method", rf.Method),
		slog.String("target", target), slog.String("client", c.RemoteAddr().String()),
		slog.String("peer", ci.Peer.String()), slog.Bool("in_body", rf.InBody), slog.Int64("similar_lines_suppressed", held))
	if snap.AccessLog == nil {
		return
	}
	e := &accesslog.Entry{Start: time.Now(), UpstreamServiceTime: -1, Method: rf.Method, Path: target, Protocol: rf.Proto,
		Code: rf.Status, Flags: "DPE", Details: "http1." + rf.Reason, DownstreamRemote: c.RemoteAddr().String()}
	if rf.InBody && !rf.HeadHeld {
		e.Code = 0 // the engine answers a request whose body broke
	}
	if ci.Local.IsValid() {
		e.DownstreamLocal = ci.Local.String()
	}
	if tc, ok := c.(*tls.Conn); ok {
		e.SNI = tc.ConnectionState().ServerName
	}
	snap.AccessLog.Log(e)
}
