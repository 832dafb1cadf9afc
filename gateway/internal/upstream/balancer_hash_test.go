package upstream

import (
	"fmt"
	"slices"
	"testing"
)

// userKey is the hash key of the i-th of many clients.
func userKey(i int) string { return fmt.Sprintf("user-%d", i) }

func TestRingHashBalancer(t *testing.T) {
	t.Run("a key keeps its endpoint", func(t *testing.T) {
		eps := testEndpoints(1, 1, 1)
		b := newRing(eps, 0)
		// A ring built again from the same addresses (a reload, or a
		// restart) sends each key to the same one.
		again := testEndpoints(1, 1, 1)
		b2 := newRing(again, 0)
		for i := range 200 {
			first := b.pick(eps, userKey(i), usable)
			for range 3 {
				if ep := b.pick(eps, userKey(i), usable); ep != first {
					t.Fatalf("key %s went to %s, then to %s", userKey(i), first.Addr, ep.Addr)
				}
			}
			if ep := b2.pick(again, userKey(i), usable); ep.Addr != first.Addr {
				t.Fatalf("key %s went to %s, then to %s on a rebuilt ring", userKey(i), first.Addr, ep.Addr)
			}
		}
	})
	t.Run("hash is stable across releases", func(t *testing.T) {
		// Changing the hash would move every client's sessions on upgrade.
		for _, tt := range []struct {
			in   string
			want uint64
		}{
			{"", 0xefd01f60ba992926},
			{"user-1", 0x41a2fca5c68401c5},
			{"10.0.0.1:8080_0", 0xb46a6616fb57f583},
		} {
			if got := hashString(tt.in); got != tt.want {
				t.Errorf("hashString(%q) = %#x, want %#x", tt.in, got, tt.want)
			}
		}
	})
	t.Run("ring size", func(t *testing.T) {
		for _, tt := range []struct {
			min     int
			weights []uint32
			want    []int // points per endpoint
		}{
			{0, []uint32{1, 1}, []int{512, 512}}, // minimumRingSize defaults to 1024
			{10, []uint32{1, 1, 1}, []int{4, 4, 4}},
			{1024, []uint32{1, 3}, []int{256, 768}},
			{4, []uint32{1, 100}, []int{1, 4}}, // every endpoint owns a point
		} {
			eps := testEndpoints(tt.weights...)
			r := newRing(eps, tt.min)
			got := make([]int, len(eps))
			for _, p := range r.points {
				got[p.ep]++
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("minimumRingSize %d, weights %v: points %v, want %v", tt.min, tt.weights, got, tt.want)
			}
			if !slices.IsSortedFunc(r.points, func(a, b ringPoint) int { return compareU64(a.hash, b.hash) }) {
				t.Errorf("minimumRingSize %d, weights %v: points out of order", tt.min, tt.weights)
			}
		}
	})
	t.Run("keys spread by weight", func(t *testing.T) {
		for _, weights := range [][]uint32{{1, 1, 1}, {1, 3}, {2, 1, 1, 4}} {
			eps := testEndpoints(weights...)
			got := counts(picks(t, newRing(eps, 0), eps, 20000, userKey, usable), len(eps))
			if !within(got, weights, 0.15) {
				t.Errorf("weights %v: keys per endpoint %v, not within 15%% of the weights", weights, got)
			}
		}
	})
	t.Run("removing an endpoint moves few keys", func(t *testing.T) {
		eps := testEndpoints(1, 1, 1, 1)
		before := picks(t, newRing(eps, 0), eps, 20000, userKey, usable)
		rest := slices.Delete(slices.Clone(eps), 2, 3)
		after := picks(t, newRing(rest, 0), rest, 20000, userKey, usable)
		moved, stayed := 0, 0
		for i := range before {
			if before[i] == 2 {
				continue // its keys must move
			}
			if eps[before[i]] != rest[after[i]] {
				moved++
			} else {
				stayed++
			}
		}
		// The ring grows each survivor's share by adding points, which
		// take some keys from other survivors (as Envoy's ring does);
		// a modulo hash would move two thirds of them.
		if frac := float64(moved) / float64(moved+stayed); frac > 0.2 {
			t.Errorf("%d of %d keys on the remaining endpoints moved (%.0f%%), want at most 20%%", moved, moved+stayed, 100*frac)
		}
	})
	t.Run("an unusable endpoint's keys move, no other", func(t *testing.T) {
		eps := testEndpoints(1, 1, 1, 1)
		b := newRing(eps, 0)
		before := picks(t, b, eps, 5000, userKey, usable)
		after := picks(t, b, eps, 5000, userKey, except(eps, 1))
		spread := map[int]bool{}
		for i := range before {
			switch {
			case before[i] == 1:
				spread[after[i]] = true
			case after[i] != before[i]:
				t.Fatalf("key %s moved from endpoint %d to %d", userKey(i), before[i], after[i])
			}
		}
		if len(spread) != 3 || spread[1] {
			t.Errorf("the unusable endpoint's keys went to %v, want the three others", spread)
		}
	})
	t.Run("none usable", func(t *testing.T) {
		eps := testEndpoints(1, 1)
		if ep := newRing(eps, 0).pick(eps, "k", except(eps, 0, 1)); ep != nil {
			t.Errorf("picked %s with none usable", ep.Addr)
		}
	})
	t.Run("without a key, weighted round robin", func(t *testing.T) {
		for _, tt := range []struct {
			weights []uint32
			want    []int
		}{
			{[]uint32{1, 1, 1}, []int{10, 10, 10}},
			{[]uint32{1, 2}, []int{10, 20}},
		} {
			eps := testEndpoints(tt.weights...)
			if got := counts(picks(t, newRing(eps, 0), eps, 30, nil, usable), len(eps)); !slices.Equal(got, tt.want) {
				t.Errorf("weights %v: picks without a key %v, want %v", tt.weights, got, tt.want)
			}
		}
	})
}

// The cluster avoids the endpoints a request already tried when another
// is usable, except under consistent hashing, where the key decides.
func TestClusterPickAvoidsTriedEndpoints(t *testing.T) {
	eps := testEndpoints(1, 1, 1)
	tests := []struct {
		name  string
		c     *Cluster
		tried []int
		want  func(got int) bool
	}{
		{"first attempt", &Cluster{Endpoints: eps, lb: &roundRobin{}}, nil, func(int) bool { return true }},
		{"retry", &Cluster{Endpoints: eps, lb: &roundRobin{}}, []int{0, 1}, func(got int) bool { return got == 2 }},
		{"all tried: any", &Cluster{Endpoints: eps, lb: &roundRobin{}}, []int{0, 1, 2}, func(int) bool { return true }},
		{"consistent hash keeps its endpoint", &Cluster{Endpoints: eps, lb: newRing(eps, 0), Hash: &HashPolicy{}}, []int{-1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tried []*Endpoint
			for _, i := range tt.tried {
				if i >= 0 {
					tried = append(tried, eps[i])
				}
			}
			want := tt.want
			if want == nil { // the key's own endpoint, even when tried
				own := slices.Index(eps, tt.c.lb.pick(eps, "k", usable))
				tried = append(tried, eps[own])
				want = func(got int) bool { return got == own }
			}
			for range 6 {
				ep := tt.c.Pick("k", tried)
				if got := slices.Index(eps, ep); got < 0 || !want(got) {
					t.Fatalf("pick after trying %v = %d", tt.tried, got)
				}
			}
		})
	}
}
