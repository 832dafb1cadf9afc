package gateway

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream/nethttp"
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
		Refused: s.pipe.RecordRefusal,
	}
}

// bind opens the socket for k. It serves nothing until Serve is called.
func (s *Server) bind(k listener.Key) (*listener.Listener, error) {
	network, addr := s.listenAddr(k)
	ln, err := s.opts.Listen(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	return listener.New(k, ln, nethttp.NewHandler(s.pipe.Handler(k)), s.edge)
}

// forwardStream forwards a connection a listener routed by a TCP route,
// if the authorization policies allow it, in the generation the listener
// read its configuration from.
func (s *Server) forwardStream(c net.Conn, f *router.Forward, sni string, cs *tls.ConnectionState, gen any) {
	s.pipe.ForwardStream(c, f, &gen.(*Snapshot).Generation, sni, cs)
}
