package upstream

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// testEndpoints makes endpoints with the given weights at distinct
// addresses, without pools: enough for the balancers.
func testEndpoints(weights ...uint32) []*Endpoint {
	eps := make([]*Endpoint, len(weights))
	for i, w := range weights {
		eps[i] = &Endpoint{Addr: fmt.Sprintf("10.0.0.%d:8080", i+1), Weight: w}
	}
	return eps
}

// except is a usable filter that refuses the endpoints of eps at the
// given indexes (ejected, or already tried).
func except(eps []*Endpoint, out ...int) func(*Endpoint) bool {
	return func(ep *Endpoint) bool { return !slices.Contains(out, slices.Index(eps, ep)) }
}

// seeded is a fixed random source, so that the random balancers pick the
// same sequence on every run.
func seeded() func(int) int { return rand.New(rand.NewPCG(1, 2)).IntN }

// picks returns the indexes in eps of n picks of b with keys from key
// (nil: no key); a pick outside eps, or none, fails the test.
func picks(t *testing.T, b balancer, eps []*Endpoint, n int, key func(int) string, usable func(*Endpoint) bool) []int {
	t.Helper()
	out := make([]int, n)
	for i := range n {
		k := ""
		if key != nil {
			k = key(i)
		}
		ep := b.pick(eps, k, usable)
		out[i] = slices.Index(eps, ep)
		if out[i] < 0 {
			t.Fatalf("pick %d (key %q) = %v, not one of the endpoints", i, k, ep)
		}
	}
	return out
}

// counts tallies picks per endpoint index.
func counts(picked []int, n int) []int {
	c := make([]int, n)
	for _, i := range picked {
		c[i]++
	}
	return c
}

// within reports whether every count is within tol (a fraction) of its
// share of the total by the weights.
func within(got []int, weights []uint32, tol float64) bool {
	total, wsum := 0, 0
	for i := range got {
		total += got[i]
		wsum += int(weights[i])
	}
	for i, n := range got {
		want := float64(total) * float64(weights[i]) / float64(wsum)
		if d := float64(n) - want; d > tol*want || -d > tol*want {
			return false
		}
	}
	return true
}

func TestNewBalancerByLoadBalancerSettings(t *testing.T) {
	eps := testEndpoints(1, 1)
	tests := []struct {
		name   string
		lb     *LoadBalancerSettings
		want   string // the balancer's type
		lbName string // as dumps show it
	}{
		{"unset is least request", nil, "*upstream.leastRequest", "LEAST_REQUEST"},
		{"UNSPECIFIED", &LoadBalancerSettings{Simple: "UNSPECIFIED"}, "*upstream.leastRequest", "LEAST_REQUEST"},
		{"LEAST_REQUEST", &LoadBalancerSettings{Simple: "LEAST_REQUEST"}, "*upstream.leastRequest", "LEAST_REQUEST"},
		{"LEAST_CONN is its deprecated alias", &LoadBalancerSettings{Simple: "LEAST_CONN"}, "*upstream.leastRequest", "LEAST_REQUEST"},
		{"PASSTHROUGH has no original destination", &LoadBalancerSettings{Simple: "PASSTHROUGH"}, "*upstream.leastRequest", "LEAST_REQUEST"},
		{"ROUND_ROBIN", &LoadBalancerSettings{Simple: "ROUND_ROBIN"}, "*upstream.roundRobin", "ROUND_ROBIN"},
		{"RANDOM", &LoadBalancerSettings{Simple: "RANDOM"}, "upstream.randomLB", "RANDOM"},
		{"consistentHash", &LoadBalancerSettings{ConsistentHash: &ConsistentHash{HTTPHeaderName: "x-user"}}, "*upstream.ring", "RING_HASH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprintf("%T", newBalancer(tt.lb, eps)); got != tt.want {
				t.Errorf("newBalancer = %s, want %s", got, tt.want)
			}
			if got := BalancerName(tt.lb); got != tt.lbName {
				t.Errorf("lbName = %s, want %s", got, tt.lbName)
			}
		})
	}
}

// schedule spreads a cycle of picks over the endpoints in proportion to
// their weights, smoothly (nginx's smooth weighted round robin), in at most
// 10 000 slots with every endpoint at least once.
func TestSchedule(t *testing.T) {
	tests := []struct {
		weights []uint32
		want    []int // picks per endpoint in one cycle; nil for no schedule
	}{
		{[]uint32{1}, nil},
		{[]uint32{1, 1, 1}, nil},
		{[]uint32{7, 7}, nil},
		{[]uint32{1, 2, 3}, []int{1, 2, 3}},
		{[]uint32{5, 1, 1}, []int{5, 1, 1}},
		{[]uint32{10000, 1000}, []int{9090, 909}},
		{[]uint32{19000, 1000}, []int{9500, 500}},
		{[]uint32{6000, 6000, 1}, []int{4999, 4999, 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.weights), func(t *testing.T) {
			s := schedule(testEndpoints(tt.weights...))
			if tt.want == nil {
				if s != nil {
					t.Fatalf("schedule = %d slots, want none", len(s))
				}
				return
			}
			if len(s) > 10000 {
				t.Errorf("cycle of %d slots, want at most 10000", len(s))
			}
			if got := counts(s, len(tt.weights)); !slices.Equal(got, tt.want) {
				t.Errorf("picks per cycle = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("smooth", func(t *testing.T) {
		// The heavy endpoint's picks are spread out, not bunched.
		s := schedule(testEndpoints(5, 1, 1))
		if want := []int{0, 0, 1, 0, 2, 0, 0}; !slices.Equal(s, want) {
			t.Errorf("schedule(5, 1, 1) = %v, want %v", s, want)
		}
	})
}

func TestRoundRobinBalancer(t *testing.T) {
	t.Run("each endpoint in turn", func(t *testing.T) {
		eps := testEndpoints(1, 1, 1)
		got := picks(t, newBalancer(&LoadBalancerSettings{Simple: "ROUND_ROBIN"}, eps), eps, 30, nil, usable)
		for i := range got {
			if i >= 3 && got[i] != got[i-3] {
				t.Fatalf("picks %v: not a cycle of the three", got)
			}
		}
		if c := counts(got[:3], 3); !slices.Equal(c, []int{1, 1, 1}) {
			t.Fatalf("picks %v: the first three are not the three endpoints", got)
		}
	})
	t.Run("weighted", func(t *testing.T) {
		weights := []uint32{5, 1, 1}
		eps := testEndpoints(weights...)
		got := picks(t, newBalancer(&LoadBalancerSettings{Simple: "ROUND_ROBIN"}, eps), eps, 70, nil, usable)
		for i := 0; i+7 <= len(got); i++ {
			if c := counts(got[i:i+7], 3); !slices.Equal(c, []int{5, 1, 1}) {
				t.Fatalf("picks %d-%d = %v, want 5, 1 and 1 of every 7", i, i+7, c)
			}
		}
	})
	t.Run("the unusable are skipped, the others share evenly", func(t *testing.T) {
		// An ejected endpoint's turns are shared by all the others, not
		// handed to the one after it.
		for _, tt := range []struct {
			weights []uint32
			out     []int
			want    []int
		}{
			{[]uint32{1, 1, 1}, []int{1}, []int{60, 0, 60}},
			{[]uint32{1, 1, 1, 1}, []int{1, 2}, []int{60, 0, 0, 60}},
			{[]uint32{1, 1, 1, 1}, []int{0}, []int{0, 40, 40, 40}},
			{[]uint32{2, 1, 1}, []int{1}, []int{80, 0, 40}},
			{[]uint32{1, 1, 2, 2}, []int{2}, []int{30, 30, 0, 60}},
		} {
			eps := testEndpoints(tt.weights...)
			b := newBalancer(&LoadBalancerSettings{Simple: "ROUND_ROBIN"}, eps)
			if got := counts(picks(t, b, eps, 120, nil, except(eps, tt.out...)), len(eps)); !slices.Equal(got, tt.want) {
				t.Errorf("weights %v without %v: picks %v, want %v", tt.weights, tt.out, got, tt.want)
			}
		}
	})
	t.Run("none usable", func(t *testing.T) {
		for _, weights := range [][]uint32{{1, 1}, {1, 2}} {
			eps := testEndpoints(weights...)
			if ep := newBalancer(&LoadBalancerSettings{Simple: "ROUND_ROBIN"}, eps).pick(eps, "", except(eps, 0, 1)); ep != nil {
				t.Errorf("weights %v: picked %s with no endpoint usable", weights, ep.Addr)
			}
		}
	})
}

func TestLeastRequestBalancer(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint32
		active  []int64
		want    int
	}{
		{"fewest in flight", []uint32{1, 1, 1}, []int64{3, 0, 1}, 1},
		{"fewest in flight, last", []uint32{1, 1, 1}, []int64{3, 2, 1}, 2},
		{"per unit of weight", []uint32{4, 1}, []int64{2, 1}, 0},
		{"per unit of weight, heavier loaded", []uint32{1, 4}, []int64{1, 5}, 0},
		// Beyond 8 endpoints two random choices are compared: the most
		// loaded endpoint never wins, whichever two are drawn.
		{"two choices never take the busiest", []uint32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, []int64{1, 1, 1, 1, 1, 1, 1, 9, 1, 1}, -7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := testEndpoints(tt.weights...)
			for i, n := range tt.active {
				eps[i].active.Store(n)
			}
			b := &leastRequest{intN: seeded()}
			for _, got := range picks(t, b, eps, 200, nil, usable) {
				if tt.want >= 0 && got != tt.want || tt.want < 0 && got == -tt.want {
					t.Fatalf("picked endpoint %d with %d in flight (want %d): loads %v", got, tt.active[got], tt.want, tt.active)
				}
			}
		})
	}
	t.Run("two choices prefer the less loaded", func(t *testing.T) {
		// Beyond 8 endpoints, the candidate in turn (1, 2, 3, ...) is
		// compared with one drawn at random, by a fixed sequence here.
		eps := testEndpoints(1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
		for i := range eps {
			eps[i].active.Store(int64(i))
		}
		draws := []int{0, 9, 3, 5}
		next := 0
		b := &leastRequest{intN: func(n int) int { next++; return draws[next-1] % n }}
		// 1 against 0; 2 against 9; 3 against itself, drawn again: 5.
		want := []int{0, 2, 3}
		got := picks(t, b, eps, 3, nil, usable)
		if !slices.Equal(got, want) {
			t.Errorf("picks = %v, want %v", got, want)
		}
	})
	t.Run("ties take turns", func(t *testing.T) {
		eps := testEndpoints(1, 1, 1)
		got := picks(t, &leastRequest{}, eps, 30, nil, usable)
		if c := counts(got, 3); !slices.Equal(c, []int{10, 10, 10}) {
			t.Errorf("picks per endpoint without load = %v, want 10 each", c)
		}
	})
	t.Run("the unusable are skipped, the others share evenly", func(t *testing.T) {
		for _, tt := range []struct {
			n    int
			out  []int
			want []int
		}{
			{3, []int{1}, []int{60, 0, 60}},
			{4, []int{1, 2}, []int{60, 0, 0, 60}},
			{4, []int{3}, []int{40, 40, 40, 0}},
		} {
			eps := testEndpoints(slices.Repeat([]uint32{1}, tt.n)...)
			if got := counts(picks(t, &leastRequest{}, eps, 120, nil, except(eps, tt.out...)), tt.n); !slices.Equal(got, tt.want) {
				t.Errorf("%d endpoints without %v: picks without load %v, want %v", tt.n, tt.out, got, tt.want)
			}
		}
	})
	t.Run("weights hold without load", func(t *testing.T) {
		// One request at a time: every endpoint has none in flight, and
		// the weights decide (Envoy's weighted least request is then a
		// weighted round robin).
		for _, tt := range []struct {
			weights []uint32
			want    []int
		}{
			{[]uint32{3, 1}, []int{90, 30}},
			{[]uint32{1, 2, 3}, []int{20, 40, 60}},
			{[]uint32{1, 1, 1, 1, 1, 1, 1, 1, 1, 3}, []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 30}},
		} {
			eps := testEndpoints(tt.weights...)
			b := newBalancer(nil, eps)
			if lr, ok := b.(*leastRequest); ok {
				lr.intN = seeded()
			}
			if got := counts(picks(t, b, eps, 120, nil, usable), len(eps)); !slices.Equal(got, tt.want) {
				t.Errorf("weights %v: picks %v, want %v", tt.weights, got, tt.want)
			}
		}
	})
	t.Run("weights hold under load", func(t *testing.T) {
		// Requests finish in random order, 30 in flight: each endpoint
		// holds requests in proportion to its weight, and so serves them.
		// A small cluster is scanned whole; a large one compares two
		// endpoints only, and the lighter ones win a little more often.
		for _, tt := range []struct {
			weights []uint32
			tol     float64
		}{
			{[]uint32{1, 2, 3}, 0.1},
			{[]uint32{1, 1, 1, 1, 1, 2, 2, 2, 3, 3}, 0.25},
			{[]uint32{1, 1, 1, 1, 1, 1, 1, 1, 1, 20}, 0.25},
		} {
			eps := testEndpoints(tt.weights...)
			r := rand.New(rand.NewPCG(3, 4))
			b := newBalancer(nil, eps).(*leastRequest)
			b.intN = r.IntN
			var inflight []*Endpoint
			served := make([]int, len(eps))
			for i := range 30000 {
				ep := b.pick(eps, "", usable)
				ep.active.Add(1)
				inflight = append(inflight, ep)
				if i >= 1000 { // once warm
					served[slices.Index(eps, ep)]++
				}
				if len(inflight) == 30 {
					j := r.IntN(len(inflight))
					inflight[j].active.Add(-1)
					inflight = slices.Delete(inflight, j, j+1)
				}
			}
			if !within(served, tt.weights, tt.tol) {
				t.Errorf("weights %v: served %v, not within %.0f%% of the weights", tt.weights, served, 100*tt.tol)
			}
		}
	})
	t.Run("none usable", func(t *testing.T) {
		for _, weights := range [][]uint32{{1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1}} {
			eps := testEndpoints(weights...)
			var out []int
			for i := range eps {
				out = append(out, i)
			}
			if ep := (&leastRequest{intN: seeded()}).pick(eps, "", except(eps, out...)); ep != nil {
				t.Errorf("%d endpoints: picked %s with none usable", len(eps), ep.Addr)
			}
		}
	})
}

func TestRandomBalancer(t *testing.T) {
	t.Run("uniform", func(t *testing.T) {
		// RANDOM ignores weights, as Envoy's random balancer does.
		eps := testEndpoints(1, 1, 3)
		got := counts(picks(t, randomLB{intN: seeded()}, eps, 3000, nil, usable), 3)
		if !within(got, []uint32{1, 1, 1}, 0.1) {
			t.Errorf("picks per endpoint = %v, want about 1000 each", got)
		}
	})
	t.Run("the unusable are skipped, the others share evenly", func(t *testing.T) {
		for _, tt := range []struct {
			n   int
			out []int
		}{
			{3, []int{1}},
			{4, []int{1, 2}},
			{10, []int{0, 1, 2, 3, 4, 5, 6}},
		} {
			eps := testEndpoints(slices.Repeat([]uint32{1}, tt.n)...)
			got := counts(picks(t, randomLB{intN: seeded()}, eps, 6000, nil, except(eps, tt.out...)), tt.n)
			var usable []int
			for i, n := range got {
				if slices.Contains(tt.out, i) {
					if n != 0 {
						t.Errorf("%d endpoints without %v: picked endpoint %d", tt.n, tt.out, i)
					}
					continue
				}
				usable = append(usable, n)
			}
			if !within(usable, slices.Repeat([]uint32{1}, len(usable)), 0.1) {
				t.Errorf("%d endpoints without %v: picks %v, want the others about even", tt.n, tt.out, got)
			}
		}
	})
	t.Run("none usable", func(t *testing.T) {
		eps := testEndpoints(1, 1)
		if ep := (randomLB{intN: seeded()}).pick(eps, "", except(eps, 0, 1)); ep != nil {
			t.Errorf("picked %s with none usable", ep.Addr)
		}
	})
}
