package gateway

import "testing"

// Regression (found in review): schedule caps the cycle length at 10000 but also subtracts the
// capped total, which breaks smooth WRR when weights sum above 10000.
func TestRegressionScheduleLargeWeights(t *testing.T) {
	for _, ws := range [][]uint32{{19000, 1000}, {10000, 1000}, {6000, 6000, 1}} {
		var eps []*endpoint
		for _, w := range ws {
			eps = append(eps, &endpoint{weight: w})
		}
		s := schedule(eps)
		cnt := make([]int, len(eps))
		for _, i := range s {
			cnt[i]++
		}
		t.Logf("weights %v -> picks per %d-slot cycle %v", ws, len(s), cnt)
	}
}
