package proxy

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
)

// RecordRefusal records a request the HTTP/1.1 validator refused: a counter
// by status and reason, an access-log line with Envoy's DPE flag (peer
// and PROXY-derived client address included) and a log line, both rate
// limited so that a flood of garbage cannot fill a disk.
func (s *Pipeline) RecordRefusal(c net.Conn, rf *h1guard.Refusal) {
	code := strconv.Itoa(rf.Status) // "0": closed without an answer
	s.Metrics.RefusedRequest(code, rf.Reason)
	ok, held := s.RefusalLog.Allow()
	if !ok {
		return
	}
	snap := s.Current()
	ci := listener.NewConnInfo(c)
	target := redactURI(snap.Authz, rf.Target)
	s.Log.LogAttrs(context.Background(), slog.LevelInfo, "request refused by the HTTP/1.1 parser",
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
