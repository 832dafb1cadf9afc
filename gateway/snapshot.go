package gateway

import (
	"crypto/sha256"
	"time"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// Snapshot is one compiled generation of configuration. It is immutable
// once published and safe for concurrent use; requests that started on it
// keep it alive until they finish.
type Snapshot struct {
	// Gen counts successful loads, starting at 1.
	Gen uint64
	// Digest is over the names and contents of the files it was built from;
	// a reload whose files hash the same is skipped.
	Digest [sha256.Size]byte
	// Files are the configuration files read.
	Files []string
	// Loaded is when the snapshot was compiled.
	Loaded time.Time
	// compileTime is how long decoding and compiling took.
	compileTime time.Duration
	// Warnings are the problems that did not stop the load.
	Warnings []Problem

	// certFiles are the certificate files the configuration reads; they are
	// watched and part of Digest, so rotating a certificate reloads.
	certFiles []string
	listeners map[listener.Key]*listener.Config
	clusters  []*upstream.Cluster
	mesh      *mesh.Settings
	// authz authenticates and authorizes requests; nil when the
	// configuration has no security resources.
	authz *authz.Engine
	// security names its security resources ("Kind ns/name", sorted), for
	// the audit of what a reload removed.
	security []string
	// alog is the access log (meshConfig accessLogFile), nil when off; it
	// is shared by the generations that configure it the same way.
	alog  *accesslog.Writer
	pools map[*transport.Pool]bool // pools its clusters use
}

// cluster returns the cluster a route destination resolved to, or nil for
// router.NoUpstream.
func (s *Snapshot) cluster(id router.UpstreamID) *upstream.Cluster {
	if id < 0 || int(id) >= len(s.clusters) {
		return nil
	}
	return s.clusters[id]
}

// Ports returns the Gateway ports the snapshot listens on.
func (s *Snapshot) Ports() []uint32 {
	var out []uint32
	for k := range s.listeners {
		out = append(out, k.Port)
	}
	return out
}
