package proxy

import (
	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// Generation is one compiled generation of configuration as the request
// pipeline reads it. It is immutable once published.
type Generation struct {
	// Gen counts successful loads, starting at 1.
	Gen       uint64
	Listeners map[listener.Key]*listener.Config
	// Clusters are indexed by router.UpstreamID.
	Clusters []*upstream.Cluster
	Mesh     *mesh.Settings
	// Authz authenticates and authorizes requests; nil when the
	// configuration has no security resources.
	Authz *authz.Engine
	// AccessLog is the access log (meshConfig accessLogFile), nil when
	// off; it is shared by the generations that configure it the same way.
	AccessLog *accesslog.Writer
}

// Cluster returns the cluster a route destination resolved to, or nil for
// router.NoUpstream.
func (g *Generation) Cluster(id router.UpstreamID) *upstream.Cluster {
	if id < 0 || int(id) >= len(g.Clusters) {
		return nil
	}
	return g.Clusters[id]
}

// Ports returns the Gateway ports the generation listens on.
func (g *Generation) Ports() []uint32 {
	var out []uint32
	for k := range g.Listeners {
		out = append(out, k.Port)
	}
	return out
}
