package gateway

import (
	"time"
)

// defaultDrainDelay is Istio's terminationDrainDuration default.
const defaultDrainDelay = 5 * time.Second

// drainDelay is how long listeners keep accepting once shutdown began.
func (s *Server) drainDelay() time.Duration {
	if d := s.opts.DrainDelay; d != nil {
		return *d
	}
	if m := s.snap.Load().Mesh; m != nil && m.DrainDelaySet {
		return m.DrainDelay
	}
	return defaultDrainDelay
}

// delayDrain is the first step of a shutdown: readiness already fails,
// and for the drain delay the listeners keep accepting while every HTTP
// server turns keep-alives off, so that each HTTP/1.1 response says
// "Connection: close" and each HTTP/2 connection gets GOAWAY once its
// streams are done. A load balancer that probes every few seconds sees
// the failing readiness and moves new connections elsewhere before any
// is refused. A second signal still exits at once (the command restores
// the default signal handling after the first).
func (s *Server) delayDrain() {
	d := s.drainDelay()
	if d <= 0 {
		return
	}
	s.log.Info("shutting down: readiness fails; listeners accept for the drain delay, asking clients to move", "delay", d)
	s.mu.Lock()
	for _, l := range s.listeners {
		l.SetKeepAlivesEnabled(false)
	}
	s.mu.Unlock()
	time.Sleep(d)
}
