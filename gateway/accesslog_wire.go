package gateway

import (
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
)

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
	key := accessLogKeyOf(next.Mesh)
	if cur := s.snap.Load(); cur != nil && accessLogKeyOf(cur.Mesh) == key {
		next.AccessLog = cur.AccessLog
		return nil
	}
	l, err := accesslog.Open(key.file, key.encoding, key.format)
	if err != nil {
		p := Problem{Err: err}
		if r := next.Mesh.AccessLogFrom; r != nil {
			p = r.Problem(err, false)
		}
		return &ConfigError{Problems: []Problem{p}}
	}
	next.AccessLog = l
	return nil
}

// retireAccessLog closes prev's access log once next no longer uses it,
// in the background: requests still finishing on prev lose their lines.
func retireAccessLog(prev, next *Snapshot) {
	if prev != nil && prev.AccessLog != nil && prev.AccessLog != next.AccessLog {
		go prev.AccessLog.Close()
	}
}

// ReopenLogs reopens the access log file (SIGUSR1, after logrotate moved
// it). It is a no-op without an access log or when it goes to stdout.
func (s *Server) ReopenLogs() error {
	return s.snap.Load().AccessLog.Reopen()
}
