package router

import (
	"maps"
	"slices"
	"strings"
)

// hostIndex finds the VirtualServices whose hosts overlap a server host
// without comparing every server host with every VirtualService: a Gateway
// listing 10 000 hosts and 10 000 VirtualServices would otherwise cost
// 10^8 comparisons per build.
type hostIndex struct {
	all   []int            // every VirtualService, in merge order
	exact map[string][]int // exact VirtualService host -> VirtualServices
	wild  []hostRef        // wildcard VirtualService hosts, "*" included
	plain []hostRef        // exact VirtualService hosts, for wildcard server hosts
}

type hostRef struct {
	host string
	vs   int
}

func newHostIndex(vss []*VS) *hostIndex {
	x := &hostIndex{exact: map[string][]int{}}
	for i, vs := range vss {
		x.all = append(x.all, i)
		for _, h := range vs.Hosts {
			if isWild(h) {
				x.wild = append(x.wild, hostRef{h, i})
				continue
			}
			x.exact[h] = append(x.exact[h], i)
			x.plain = append(x.plain, hostRef{h, i})
		}
	}
	return x
}

// candidates returns the VirtualServices that may share a name with the
// server host name, possibly with repeats; the caller intersects exactly.
func (x *hostIndex) candidates(name string) []int {
	if name == "*" {
		return x.all
	}
	var out []int
	if !isWild(name) {
		out = append(out, x.exact[name]...)
	} else {
		for _, r := range x.plain {
			if HostsMatch(name, r.host) {
				out = append(out, r.vs)
			}
		}
	}
	for _, r := range x.wild {
		if HostsMatch(name, r.host) {
			out = append(out, r.vs)
		}
	}
	return out
}

// bindServer binds every VirtualService whose hosts overlap server s,
// in VirtualService order, each with the names it shares with the server
// in the order Istio's host intersection gives them.
func (b *tableBuilder) bindServer(s Server, gwNS string, vss []*VS, idx *hostIndex, resolve Resolver) {
	type pair struct {
		vs   int
		host string
	}
	shared := map[int][]string{}
	seen := map[pair]bool{}
	for _, h := range s.Hosts {
		hostNS, name, ok := strings.Cut(h, "/")
		if !ok {
			hostNS, name = "*", h
		} else if hostNS == "." {
			hostNS = gwNS
		}
		for _, i := range idx.candidates(name) {
			if hostNS != "*" && hostNS != vss[i].Meta.Namespace {
				continue
			}
			for _, n := range IntersectHosts([]string{name}, vss[i].Hosts) {
				if !seen[pair{i, n}] {
					seen[pair{i, n}] = true
					shared[i] = append(shared[i], n)
				}
			}
		}
	}
	for _, i := range slices.Sorted(maps.Keys(shared)) {
		b.bind(s, vss[i], shared[i], resolve)
	}
}
