package gateway

import (
	"cmp"
	"slices"
	"time"

	"github.com/gatehouse-proxy/gatehouse/router"
)

// configDump is the JSON served at /config_dump.
type configDump struct {
	Version    string         `json:"version,omitempty"`
	Generation uint64         `json:"generation"`
	Loaded     time.Time      `json:"loaded"`
	Files      []string       `json:"files"`
	Reload     reloadInfo     `json:"reload"`
	Warnings   []string       `json:"warnings,omitempty"`
	Listeners  []listenerDump `json:"listeners"`
	Clusters   []clusterDump  `json:"clusters"`
	AccessLog  *accessLogDump `json:"access_log,omitempty"`
	JWKS       []jwksDump     `json:"jwks,omitempty"`
}

type accessLogDump struct {
	File    string `json:"file"`
	Dropped uint64 `json:"dropped_lines"`
}

type jwksDump struct {
	URI         string    `json:"uri"`
	Ready       bool      `json:"ready"`
	Keys        int       `json:"keys"`
	Fetches     int       `json:"fetches"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

type listenerDump struct {
	Address  string `json:"address"`
	Bound    string `json:"bound,omitempty"`
	Protocol string `json:"protocol"`
	// ProxyProtocol says how PROXY headers are taken, "" when they are not.
	ProxyProtocol     string       `json:"proxy_protocol,omitempty"`
	TrustedProxies    uint32       `json:"num_trusted_proxies"`
	PathNormalization string       `json:"path_normalization"`
	Servers           []serverDump `json:"servers"`
	VirtualHosts      []vhostDump  `json:"virtual_hosts,omitempty"`
}

type serverDump struct {
	Gateway  string   `json:"gateway"`
	Index    int      `json:"index"`
	PortName string   `json:"port_name"`
	Protocol string   `json:"protocol"`
	Hosts    []string `json:"hosts"`
}

type vhostDump struct {
	Domain     string      `json:"domain"`
	RequireTLS bool        `json:"require_tls,omitempty"`
	Routes     []routeDump `json:"routes"`
}

type routeDump struct {
	Name           string     `json:"name,omitempty"`
	VirtualService string     `json:"virtual_service"`
	HTTPIndex      int        `json:"http_index"`
	MatchIndex     int        `json:"match_index"`
	Timeout        string     `json:"timeout,omitempty"`
	Destinations   []destDump `json:"destinations,omitempty"`
}

type destDump struct {
	Host    string `json:"host"`
	Subset  string `json:"subset,omitempty"`
	Port    uint32 `json:"port,omitempty"`
	Weight  uint32 `json:"weight"`
	Cluster string `json:"cluster"`
}

type clusterDump struct {
	Name      string         `json:"name"`
	Endpoints []endpointDump `json:"endpoints"`
}

type endpointDump struct {
	Address string            `json:"address"`
	Labels  map[string]string `json:"labels,omitempty"`
	Weight  uint32            `json:"weight"`
	Active  int64             `json:"active_requests"`
	Idle    int               `json:"idle_connections"`
}

func (s *Server) dump() configDump {
	snap := s.snap.Load()
	d := configDump{Version: s.opts.Version, Generation: snap.Gen, Loaded: snap.Loaded, Files: snap.Files, Reload: s.status.info()}
	for _, w := range snap.Warnings {
		d.Warnings = append(d.Warnings, w.String())
	}
	for _, lc := range snap.Listeners {
		ld := listenerDump{Address: lc.Key.String(), Protocol: lc.Family.String(), ProxyProtocol: lc.Proxy.Describe(),
			TrustedProxies: lc.TrustedHops, PathNormalization: lc.PathMode.String()}
		if a := s.Addr(lc.Key.Port); a != nil {
			ld.Bound = a.String()
		}
		for _, sv := range lc.Servers {
			ld.Servers = append(ld.Servers, serverDump{Gateway: sv.Gateway, Index: sv.Index, PortName: sv.Spec.Port.Name, Protocol: sv.Protocol, Hosts: sv.Hosts})
		}
		ld.VirtualHosts = dumpTable(snap, lc.Routes)
		for _, t := range lc.Terminated {
			ld.VirtualHosts = append(ld.VirtualHosts, dumpTable(snap, t.Routes)...)
		}
		d.Listeners = append(d.Listeners, ld)
	}
	slices.SortFunc(d.Listeners, func(a, b listenerDump) int { return cmp.Compare(a.Address, b.Address) })
	for _, c := range snap.Clusters {
		cd := clusterDump{Name: c.Name}
		for _, ep := range c.Endpoints {
			cd.Endpoints = append(cd.Endpoints, endpointDump{Address: ep.Addr, Labels: ep.Labels, Weight: ep.Weight,
				Active: ep.Pool.Active(), Idle: ep.Pool.IdleCount()})
		}
		d.Clusters = append(d.Clusters, cd)
	}
	if l := snap.AccessLog; l != nil {
		d.AccessLog = &accessLogDump{File: l.Path(), Dropped: l.Dropped()}
	}
	for _, k := range s.keySets.Status() {
		d.JWKS = append(d.JWKS, jwksDump{URI: k.URI, Ready: k.Ready, Keys: k.Keys, Fetches: k.Fetches, LastSuccess: k.LastSuccess, LastError: k.LastError})
	}
	return d
}

func dumpTable(snap *Snapshot, t *router.Table) []vhostDump {
	if t == nil {
		return nil
	}
	var out []vhostDump
	for _, vh := range t.VHosts() {
		vd := vhostDump{Domain: vh.Domain, RequireTLS: vh.RequireTLS}
		for _, rt := range vh.Routes {
			rd := routeDump{Name: rt.Name, VirtualService: rt.VirtualService, HTTPIndex: rt.Index, MatchIndex: rt.Match}
			if rt.Action != nil && rt.Action.Timeout > 0 {
				rd.Timeout = rt.Action.Timeout.String()
			}
			if rt.Forward != nil {
				for _, dst := range rt.Forward.Dests {
					dd := destDump{Host: dst.Host, Subset: dst.Subset, Port: dst.Port, Weight: dst.Weight}
					if c := snap.Cluster(dst.Upstream); c != nil {
						dd.Cluster = c.Name
					}
					rd.Destinations = append(rd.Destinations, dd)
				}
			}
			vd.Routes = append(vd.Routes, rd)
		}
		out = append(out, vd)
	}
	return out
}
