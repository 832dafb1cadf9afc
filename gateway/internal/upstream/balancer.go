package upstream

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// balancer chooses an endpoint of a cluster for one attempt. usable says
// which endpoints may be chosen (healthy, and not tried before when that is
// possible); key is the consistent-hash key, "" for none.
type balancer interface {
	pick(eps []*Endpoint, key string, usable func(*Endpoint) bool) *Endpoint
}

// newBalancer builds the balancer for a loadBalancer setting. Istio's
// default (UNSPECIFIED) is LEAST_REQUEST; so is PASSTHROUGH here, as an
// edge gateway has no original destination to pass through to.
func newBalancer(lb *LoadBalancerSettings, eps []*Endpoint) balancer {
	switch {
	case lb != nil && lb.ConsistentHash != nil:
		return newRing(eps, int(lb.ConsistentHash.MinimumRingSize))
	case lb != nil && lb.Simple == "ROUND_ROBIN":
		return &roundRobin{sched: schedule(eps)}
	case lb != nil && lb.Simple == "RANDOM":
		return randomLB{}
	}
	return &leastRequest{rr: roundRobin{sched: schedule(eps)}}
}

// schedule spreads endpoints over a cycle in proportion to their weights
// (smooth weighted round robin); nil when all weights are equal.
func schedule(eps []*Endpoint) []int {
	if len(eps) < 2 || !slices.ContainsFunc(eps, func(e *Endpoint) bool { return e.Weight != eps[0].Weight }) {
		return nil
	}
	// Weights scaled to a cycle of at most 10 000 picks, each at least 1.
	sum := 0
	for _, e := range eps {
		sum += int(e.Weight)
	}
	w := make([]int, len(eps))
	total := 0
	for i, e := range eps {
		w[i] = int(e.Weight)
		if sum > 10000 {
			w[i] = max(1, int(e.Weight)*10000/sum)
		}
		total += w[i]
	}
	cur := make([]int, len(eps))
	out := make([]int, 0, total)
	for range total {
		best := 0
		for i := range eps {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, best)
	}
	return out
}

// roundRobin takes endpoints in turn, weighted by schedule when set.
type roundRobin struct {
	next  atomic.Uint32
	sched []int
}

func (b *roundRobin) pick(eps []*Endpoint, _ string, usable func(*Endpoint) bool) *Endpoint {
	if i := b.index(eps, usable); i >= 0 {
		return eps[i]
	}
	return nil
}

// index returns the index in eps of the next usable endpoint in turn, or
// -1 when none is usable. The turn moves past the endpoint returned, so
// that the turns of unusable endpoints are shared by all the others
// rather than all handed to the one after them.
func (b *roundRobin) index(eps []*Endpoint, usable func(*Endpoint) bool) int {
	n := len(eps)
	if b.sched != nil {
		n = len(b.sched)
	}
	start := int(b.next.Add(1))
	for i := range n {
		j := (start + i) % n
		if b.sched != nil {
			j = b.sched[j]
		}
		if usable(eps[j]) {
			if i > 0 {
				b.next.Add(uint32(i))
			}
			return j
		}
	}
	return -1
}

// scan returns the first usable endpoint from start, wrapping around.
func scan(eps []*Endpoint, start int, usable func(*Endpoint) bool) *Endpoint {
	for i := range eps {
		if ep := eps[(start+i)%len(eps)]; usable(ep) {
			return ep
		}
	}
	return nil
}

// randomLB picks uniformly at random.
type randomLB struct {
	intN func(int) int // the random source; nil for math/rand/v2
}

func (b randomLB) pick(eps []*Endpoint, _ string, usable func(*Endpoint) bool) *Endpoint {
	// An unusable endpoint drawn is drawn again rather than passed to the
	// next one, which would take its share on top of its own.
	for range 4 {
		if ep := eps[randN(b.intN, len(eps))]; usable(ep) {
			return ep
		}
	}
	// Mostly unusable: draw among the usable ones.
	n := 0
	for _, ep := range eps {
		if usable(ep) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	k := randN(b.intN, n)
	for _, ep := range eps {
		if usable(ep) {
			if k == 0 {
				return ep
			}
			k--
		}
	}
	return scan(eps, 0, usable) // fewer usable than counted: one was just ejected
}

// randN returns a random number in [0, n) from intN, or from math/rand/v2
// when intN is nil (tests fix the sequence).
func randN(intN func(int) int, n int) int {
	if intN != nil {
		return intN(n)
	}
	return rand.IntN(n)
}

// leastRequest picks the endpoint with the fewest requests in flight
// relative to its weight. The endpoint next in weighted round-robin order
// is the candidate, which wins ties, so that the weights hold without
// load too (Envoy's weighted least request is then a weighted round
// robin): small clusters compare every other endpoint with it, large ones
// one other chosen at random (the power of two choices, as Envoy does).
type leastRequest struct {
	rr   roundRobin
	intN func(int) int // the random source; nil for math/rand/v2
}

func (b *leastRequest) pick(eps []*Endpoint, _ string, usable func(*Endpoint) bool) *Endpoint {
	at := b.rr.index(eps, usable)
	if at < 0 {
		return nil
	}
	if len(eps) > 8 {
		return b.twoChoices(eps, eps[at], usable)
	}
	best := eps[at]
	for i := 1; i < len(eps); i++ {
		if ep := eps[(at+i)%len(eps)]; usable(ep) && lighter(ep, best) {
			best = ep
		}
	}
	return best
}

// twoChoices compares the candidate with another usable endpoint drawn at
// random.
func (b *leastRequest) twoChoices(eps []*Endpoint, candidate *Endpoint, usable func(*Endpoint) bool) *Endpoint {
	for range 8 {
		ep := eps[randN(b.intN, len(eps))]
		if ep == candidate || !usable(ep) {
			continue
		}
		if lighter(ep, candidate) {
			return ep
		}
		break
	}
	return candidate
}

// lighter compares load per unit of weight.
func lighter(a, b *Endpoint) bool {
	return a.active.Load()*int64(b.Weight) < b.active.Load()*int64(a.Weight)
}

// ring is a consistent-hash ring (Envoy's ring hash): each endpoint owns
// points in proportion to its weight, and a key goes to the first point at
// or after its hash.
type ring struct {
	points []ringPoint
	rr     roundRobin // for requests without a key, by weight
}

type ringPoint struct {
	hash uint64
	ep   int
}

func newRing(eps []*Endpoint, minSize int) *ring {
	if minSize <= 0 {
		minSize = 1024
	}
	total := 0
	for _, e := range eps {
		total += int(e.Weight)
	}
	r := &ring{rr: roundRobin{sched: schedule(eps)}}
	for i, e := range eps {
		n := max(1, (minSize*int(e.Weight)+total-1)/max(total, 1))
		for j := range n {
			r.points = append(r.points, ringPoint{hashString(e.Addr + "_" + strconv.Itoa(j)), i})
		}
	}
	slices.SortFunc(r.points, func(a, b ringPoint) int { return compareU64(a.hash, b.hash) })
	return r
}

func (r *ring) pick(eps []*Endpoint, key string, usable func(*Endpoint) bool) *Endpoint {
	if key == "" || len(r.points) == 0 {
		return r.rr.pick(eps, "", usable)
	}
	h := hashString(key)
	i, _ := slices.BinarySearchFunc(r.points, h, func(p ringPoint, h uint64) int { return compareU64(p.hash, h) })
	for k := range r.points {
		if ep := eps[r.points[(i+k)%len(r.points)].ep]; usable(ep) {
			return ep
		}
	}
	return nil
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hashString is FNV-1a with MurmurHash3's finalizer, so that keys that
// differ in one character land far apart on the ring. It is stable across
// restarts: a key keeps its endpoint when gatehouse restarts with the
// same endpoints.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// BalancerName describes a balancer for dumps.
func BalancerName(lb *LoadBalancerSettings) string {
	switch {
	case lb == nil || lb.Simple == "" || lb.Simple == "UNSPECIFIED" || lb.Simple == "LEAST_CONN" || lb.Simple == "PASSTHROUGH":
		if lb != nil && lb.ConsistentHash != nil {
			return "RING_HASH"
		}
		return "LEAST_REQUEST"
	}
	return strings.ToUpper(lb.Simple)
}
