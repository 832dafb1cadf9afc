package proxy

import (
	"net"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
)

// The access log's wiring into the gateway: every request's entry (for
// the metrics, and the access log when it is on), the log's life across
// reloads, and TCP connections' entries.

// entryOf returns the access-log entry of the request w answers, or nil.
func entryOf(w downstream.ResponseWriter) *accesslog.Entry { return accesslog.EntryOf(w) }

// note adds Envoy response flags and sets the response code details of
// the request w answers (an empty details keeps the previous).
func note(w downstream.ResponseWriter, flags, details string) { accesslog.Note(w, flags, details) }

// beginLog starts the entry of a request; finishLog ends it.
func beginLog(w downstream.ResponseWriter, r *downstream.Request) *accesslog.Recorder {
	return accesslog.Begin(w, r)
}

// finishLog completes the entry of a request, records the request in m,
// writes the line if the snapshot has an access log and recycles rec.
func finishLog(m *metrics.Metrics, snap *Generation, rec *accesslog.Recorder, r *downstream.Request, ci *listener.ConnInfo) {
	if e := rec.Finish(r); e != nil {
		RecordHTTP(m, e, r, rec.Header())
		if snap.AccessLog != nil {
			writeLog(snap, e, rec, r, ci)
		}
	}
	rec.Release()
}

// writeLog fills the fields only the access log needs and writes the line.
func writeLog(snap *Generation, e *accesslog.Entry, rec *accesslog.Recorder, r *downstream.Request, ci *listener.ConnInfo) {
	e.SetRequest(r)
	e.Path = redactURI(snap.Authz, e.Path)
	if ci.Local.IsValid() {
		e.DownstreamLocal = ci.Local.String()
	}
	e.RespHeader = rec.Header()
	snap.AccessLog.Log(e)
}

// redactURI hides the value of every query parameter a JWT rule reads a
// token from (access_token=<redacted>): a token never reaches a log.
func redactURI(eng *authz.Engine, uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	if q := eng.RedactQuery(query); q != query {
		return path + "?" + q
	}
	return uri
}

// tcpEntry starts the access-log line of a TCP connection.
func tcpEntry(c net.Conn, sni string) *accesslog.Entry {
	e := &accesslog.Entry{Start: time.Now(), UpstreamServiceTime: -1, SNI: sni, DownstreamRemote: c.RemoteAddr().String()}
	if ci := listener.NewConnInfo(c); ci.Local.IsValid() {
		e.DownstreamLocal = ci.Local.String()
	}
	return e
}
