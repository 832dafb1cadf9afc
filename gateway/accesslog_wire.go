package gateway

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
)

// logWriter wraps the ResponseWriter of every request (for the metrics,
// and the access log when it is on): it counts what was sent and carries
// the line's fields, which the places that answer fill in (see note).
// Unwrap keeps http.ResponseController (flush, deadlines, hijack) working
// through it.
type logWriter struct {
	http.ResponseWriter
	e     accessEntry
	wrote bool
	// h2c is set when the request upgrades its connection to HTTP/2: the
	// metrics count the connection's streams, not it (unless refused).
	h2c bool
}

var logWriters = sync.Pool{New: func() any { return new(logWriter) }}

// WriteHeader records the final status; 1xx responses are not final.
func (lw *logWriter) WriteHeader(code int) {
	if !lw.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		lw.wrote, lw.e.Code = true, code
	}
	lw.ResponseWriter.WriteHeader(code)
}

func (lw *logWriter) Write(b []byte) (int, error) {
	if !lw.wrote {
		lw.wrote, lw.e.Code = true, http.StatusOK
	}
	n, err := lw.ResponseWriter.Write(b)
	lw.e.BytesSent += int64(n)
	return n, err
}

// Flush sends buffered data to the client.
func (lw *logWriter) Flush() { http.NewResponseController(lw.ResponseWriter).Flush() }

// Unwrap returns the wrapped writer, for http.ResponseController.
func (lw *logWriter) Unwrap() http.ResponseWriter { return lw.ResponseWriter }

// entryOf returns the access-log fields of the request w answers, or nil
// when w is not a request's logWriter.
func entryOf(w http.ResponseWriter) *accessEntry {
	if lw, ok := w.(*logWriter); ok {
		return &lw.e
	}
	return nil
}

// note adds Envoy response flags and sets the response code details of
// the request w answers (an empty details keeps the previous); without a
// logWriter it does nothing.
func note(w http.ResponseWriter, flags, details string) {
	e := entryOf(w)
	if e == nil {
		return
	}
	switch {
	case flags == "":
	case e.Flags == "":
		e.Flags = flags
	default:
		e.Flags += "," + flags
	}
	if details != "" {
		e.Details = details
	}
}

// countingBody counts the request body bytes read, for BYTES_RECEIVED.
// The body may be read by another goroutine than the handler's.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// beginLog starts the access-log line of a request: it wraps w and the
// request body. finish writes the line.
func beginLog(w http.ResponseWriter, r *http.Request) (*logWriter, *countingBody) {
	lw := logWriters.Get().(*logWriter)
	lw.ResponseWriter = w
	lw.e.Start = time.Now()
	lw.e.UpstreamServiceTime = -1
	var cb *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		cb = &countingBody{ReadCloser: r.Body}
		r.Body = cb
	}
	return lw, cb
}

// finishLog fills the fields known at the end of the request, records
// the request in m, writes the line if l (the access log) is not nil and
// recycles lw.
func finishLog(m *metrics, snap *Snapshot, lw *logWriter, cb *countingBody, r *http.Request, ci *connInfo) {
	e := &lw.e
	if lw.h2c && e.Code == 0 {
		// The connection switched to h2c: its streams are the requests,
		// and stream 1 may still be reading r.
		*lw = logWriter{}
		logWriters.Put(lw)
		return
	}
	e.Duration = time.Since(e.Start)
	if cb != nil {
		e.BytesReceived = cb.n.Load()
	}
	if e.Code == 0 && r.Context().Err() != nil && !strings.Contains(e.Flags, "DC") {
		note(lw, "DC", "downstream_remote_disconnect")
	}
	m.recordHTTP(e, r, lw.ResponseWriter)
	if snap.alog != nil {
		writeLog(snap, lw, r, ci)
	}
	*lw = logWriter{}
	logWriters.Put(lw)
}

// writeLog fills the fields only the access log needs and writes the line.
func writeLog(snap *Snapshot, lw *logWriter, r *http.Request, ci *connInfo) {
	e := &lw.e
	e.Method = r.Method
	e.Path = r.RequestURI
	if e.originalPath != "" {
		e.Path = e.originalPath
	}
	e.Path = redactURI(snap.authz, e.Path)
	e.Protocol = protocolName(r)
	e.Authority = r.Host
	e.DownstreamRemote = r.RemoteAddr
	if ci.local.IsValid() {
		e.DownstreamLocal = ci.local.String()
	}
	if r.TLS != nil {
		e.SNI = r.TLS.ServerName
	}
	e.ReqHeader = r.Header
	e.XFF = r.Header.Get("X-Forwarded-For")
	e.UserAgent = r.Header.Get("User-Agent")
	e.RequestID = r.Header.Get("X-Request-Id")
	e.RespHeader = lw.ResponseWriter.Header()
	snap.alog.Log(e)
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

// protocolName is Envoy's %PROTOCOL%.
func protocolName(r *http.Request) string {
	switch {
	case r.ProtoMajor == 2:
		return "HTTP/2"
	case r.ProtoMinor == 0:
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// accessLogKey is what identifies an access log across reloads.
type accessLogKey struct{ file, encoding, format string }

func accessLogKeyOf(m *mesh.Settings) accessLogKey {
	return accessLogKey{m.AccessLogFile, m.AccessLogEncoding, m.AccessLogFormat}
}

// attachAccessLog gives next the access log its mesh configuration asks
// for: the one in use when its settings did not change, else a newly
// opened one. A file that cannot be opened rejects the configuration.
// Callers hold reloadMu.
func (s *Server) attachAccessLog(next *Snapshot) error {
	key := accessLogKeyOf(next.mesh)
	if cur := s.snap.Load(); cur != nil && accessLogKeyOf(cur.mesh) == key {
		next.alog = cur.alog
		return nil
	}
	l, err := newAccessLog(key.file, key.encoding, key.format)
	if err != nil {
		p := Problem{Err: err}
		if r := next.mesh.AccessLogFrom; r != nil {
			p = r.Problem(err, false)
		}
		return &ConfigError{Problems: []Problem{p}}
	}
	next.alog = l
	return nil
}

// retireAccessLog closes prev's access log once next no longer uses it,
// in the background: requests still finishing on prev lose their lines.
func retireAccessLog(prev, next *Snapshot) {
	if prev != nil && prev.alog != nil && prev.alog != next.alog {
		go prev.alog.Close()
	}
}

// ReopenLogs reopens the access log file (SIGUSR1, after logrotate moved
// it). It is a no-op without an access log or when it goes to stdout.
func (s *Server) ReopenLogs() error {
	return s.snap.Load().alog.Reopen()
}

// tcpEntry starts the access-log line of a TCP connection.
func tcpEntry(c net.Conn, sni string) *accessEntry {
	e := &accessEntry{Start: time.Now(), UpstreamServiceTime: -1, SNI: sni, DownstreamRemote: c.RemoteAddr().String()}
	if ci := newConnInfo(c); ci.local.IsValid() {
		e.DownstreamLocal = ci.local.String()
	}
	return e
}

// fail records why a TCP connection was not forwarded; nil-safe.
func (e *accessEntry) fail(flags, details string) {
	if e != nil {
		e.Flags, e.Details = flags, details
	}
}

// upstream records the cluster and endpoint a TCP connection goes to;
// nil-safe.
func (e *accessEntry) upstream(c *cluster, ep *endpoint) {
	if e != nil {
		e.UpstreamCluster, e.UpstreamHost = c.name, ep.addr
	}
}
