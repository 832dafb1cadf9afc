package upstream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// outlierCluster is a round-robin cluster of n endpoints under the
// outlierDetection block od.
func outlierCluster(n int, od *OutlierDetection) *Cluster {
	return &Cluster{Endpoints: testEndpoints(slices.Repeat([]uint32{1}, n)...), lb: &roundRobin{}, Outlier: OutlierOf(od)}
}

// outcome is the result of one attempt: a status, or an error.
type outcome struct {
	code int
	err  error
}

func (o outcome) String() string {
	if o.err != nil {
		return o.err.Error()
	}
	return fmt.Sprint(o.code)
}

// observeAll reports the outcomes of attempts on ep.
func observeAll(c *Cluster, ep *Endpoint, outs ...outcome) {
	for _, o := range outs {
		var resp *http.Response
		if o.err == nil {
			resp = &http.Response{StatusCode: o.code}
		}
		c.Observe(ep, resp, o.err)
	}
}

// results makes one outcome per status.
func results(cs ...int) []outcome {
	out := make([]outcome, len(cs))
	for i, c := range cs {
		out[i] = outcome{code: c}
	}
	return out
}

func u32(v uint32) *uint32 { return &v }
func i32(v int32) *int32   { return &v }

func apiDuration(d time.Duration) *api.Duration { v := api.Duration(d); return &v }

func TestOutlierEjectsAfterConsecutiveErrors(t *testing.T) {
	gatewayOnly := &OutlierDetection{Consecutive5xxErrors: u32(0), ConsecutiveGatewayErrors: u32(3)}
	two := &OutlierDetection{Consecutive5xxErrors: u32(2)}
	connectErr := &transport.ConnectError{Err: errors.New("connection refused")}
	tests := []struct {
		name  string
		od    *OutlierDetection
		outs  []outcome
		eject bool
	}{
		{"5 consecutive 5xx by default", &OutlierDetection{}, results(500, 503, 500, 501, 599), true},
		{"4 are not enough", &OutlierDetection{}, results(500, 500, 500, 500), false},
		{"a success breaks the run", &OutlierDetection{}, results(500, 500, 500, 500, 200, 500, 500, 500, 500), false},
		{"a 4xx breaks the run", &OutlierDetection{}, results(500, 500, 500, 500, 404, 500), false},
		{"consecutive5xxErrors", two, results(200, 500, 500), true},
		{"consecutive5xxErrors 0 disables", &OutlierDetection{Consecutive5xxErrors: u32(0)}, results(500, 500, 500, 500, 500, 500, 500), false},
		{"deprecated consecutiveErrors", &OutlierDetection{ConsecutiveErrors: 2}, results(502, 500), true},
		{"consecutive5xxErrors wins over consecutiveErrors", &OutlierDetection{ConsecutiveErrors: 2, Consecutive5xxErrors: u32(3)}, results(502, 500), false},
		{"gateway errors", gatewayOnly, results(502, 503, 504), true},
		{"500 is no gateway error", gatewayOnly, results(500, 500, 500, 500, 500, 500), false},
		{"a success breaks a run of gateway errors", gatewayOnly, results(502, 502, 200, 502, 502), false},
		{"another 5xx breaks a run of gateway errors", gatewayOnly, results(502, 502, 500, 502, 502), false},
		{"both runs at once", &OutlierDetection{Consecutive5xxErrors: u32(4), ConsecutiveGatewayErrors: u32(3)}, results(502, 502, 500, 502), true},
		{"a failure to connect is a gateway error", gatewayOnly, []outcome{{err: connectErr}, {err: connectErr}, {err: connectErr}}, true},
		{"resets and timeouts are 5xx", two, []outcome{{err: &transport.ResetError{Err: errors.New("EOF")}}, {err: context.DeadlineExceeded}}, true},
		// What the client or the gateway itself did says nothing of the
		// endpoint: neither counted nor breaking a run.
		{"client and gateway failures do not count", two, []outcome{{err: context.Canceled}, {err: &transport.ClientBodyError{Err: errors.New("unexpected EOF")}},
			{err: &transport.RequestError{Part: "header name"}}, {err: transport.ErrOverflow}, {err: transport.ErrNoHealthy}, {code: 500}}, false},
		{"client and gateway failures do not break a run", two, []outcome{{code: 500}, {err: context.Canceled}, {err: transport.ErrOverflow}, {code: 500}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := outlierCluster(3, tt.od)
			observeAll(c, c.Endpoints[0], tt.outs...)
			if got := c.Endpoints[0].health.ejected(time.Now()); got != tt.eject {
				t.Errorf("after %v: ejected = %v, want %v", tt.outs, got, tt.eject)
			}
			for _, ep := range c.Endpoints[1:] {
				if ep.health.ejected(time.Now()) {
					t.Errorf("endpoint %s was ejected for another's errors", ep.Addr)
				}
			}
		})
	}
	t.Run("without outlierDetection nothing is ejected", func(t *testing.T) {
		c := outlierCluster(3, nil)
		observeAll(c, c.Endpoints[0], results(500, 500, 500, 500, 500, 500, 500, 500, 500, 500)...)
		if c.Endpoints[0].health.ejected(time.Now()) {
			t.Error("ejected without outlierDetection")
		}
	})
}

// An endpoint is ejected for baseEjectionTime times the number of times
// it has been ejected, up to 300 s or baseEjectionTime if longer (Envoy's
// max_ejection_time).
func TestOutlierEjectionTimeGrows(t *testing.T) {
	s := time.Second
	tests := []struct {
		base time.Duration
		want []time.Duration // the 1st, 2nd, ... ejections
	}{
		{30 * s, []time.Duration{30 * s, 60 * s, 90 * s, 120 * s, 150 * s, 180 * s, 210 * s, 240 * s, 270 * s, 300 * s, 300 * s, 300 * s}},
		{100 * s, []time.Duration{100 * s, 200 * s, 300 * s, 300 * s}},
		{400 * s, []time.Duration{400 * s, 400 * s, 400 * s}},
		{10 * time.Millisecond, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.base.String(), func(t *testing.T) {
			c := outlierCluster(2, &OutlierDetection{BaseEjectionTime: apiDuration(tt.base)})
			ep := c.Endpoints[0]
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, want := range tt.want {
				c.eject(ep, now)
				until := ep.health.ejectedUntil
				if got := until.Sub(now); got != want {
					t.Errorf("ejection %d lasts %v, want %v", i+1, got, want)
				}
				if !ep.health.ejected(until.Add(-time.Nanosecond)) || ep.health.ejected(until) {
					t.Errorf("ejection %d: not ejected until exactly %v", i+1, until)
				}
				// Ejecting again while ejected changes nothing.
				c.eject(ep, now.Add(time.Nanosecond))
				if ep.health.ejectedUntil != until || ep.health.ejections != i+1 {
					t.Fatalf("ejection %d: ejecting again moved the end to %v (%d ejections)", i+1, ep.health.ejectedUntil, ep.health.ejections)
				}
				now = until.Add(time.Hour) // back in rotation, then failing again
			}
		})
	}
}

// At most maxEjectionPercent of a cluster's endpoints are ejected at once,
// but one always may be (Envoy before 1.27, and always_eject_one_host).
func TestOutlierMaxEjectionPercent(t *testing.T) {
	tests := []struct {
		n, percent int32
		want       int
	}{
		{10, -1, 1}, // the default is 10%
		{10, 20, 2},
		{20, 10, 2},
		{3, 10, 1},
		{3, 50, 1},
		{4, 50, 2},
		{3, 66, 1},
		{3, 67, 2},
		{3, 100, 3},
		{1, 10, 1},
		{5, 0, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d endpoints, %d%%", tt.n, tt.percent), func(t *testing.T) {
			od := &OutlierDetection{}
			if tt.percent >= 0 {
				od.MaxEjectionPercent = i32(tt.percent)
			}
			c := outlierCluster(int(tt.n), od)
			now := time.Now()
			for _, ep := range c.Endpoints { // all failing
				c.eject(ep, now)
			}
			got := 0
			for _, ep := range c.Endpoints {
				if ep.health.ejected(now) {
					got++
				}
			}
			if got != tt.want {
				t.Errorf("%d ejected, want %d", got, tt.want)
			}
		})
	}
	t.Run("room again once one returns", func(t *testing.T) {
		c := outlierCluster(4, &OutlierDetection{MaxEjectionPercent: i32(25), BaseEjectionTime: apiDuration(time.Minute)})
		a, b := c.Endpoints[0], c.Endpoints[1]
		now := time.Now()
		c.eject(a, now)
		c.eject(b, now)
		if !a.health.ejected(now) || b.health.ejected(now) {
			t.Fatalf("ejected: a %v, b %v; want a only", a.health.ejected(now), b.health.ejected(now))
		}
		later := now.Add(time.Minute)
		c.eject(b, later)
		if a.health.ejected(later) || !b.health.ejected(later) {
			t.Errorf("a minute later: ejected a %v, b %v; want b only", a.health.ejected(later), b.health.ejected(later))
		}
	})
}

// An ejected endpoint gets no requests until its ejection time is over,
// then takes its turns again, and it takes a full run of errors to eject
// it again.
func TestOutlierEndpointReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := outlierCluster(3, &OutlierDetection{Consecutive5xxErrors: u32(3), BaseEjectionTime: apiDuration(10 * time.Second), MaxEjectionPercent: i32(50)})
		bad := c.Endpoints[0]
		served := func() []int {
			got := make([]int, 3)
			for range 30 {
				got[slices.Index(c.Endpoints, c.Pick("", nil))]++
			}
			return got
		}
		observeAll(c, bad, results(500, 500, 500)...)
		if got := served(); got[0] != 0 || got[1] != 15 || got[2] != 15 {
			t.Fatalf("while ejected: picks %v, want none for the ejected endpoint", got)
		}
		time.Sleep(10*time.Second - time.Millisecond)
		if got := served(); got[0] != 0 {
			t.Fatalf("just before the ejection time is over: picks %v", got)
		}
		time.Sleep(time.Millisecond)
		if got := served(); got[0] != 10 {
			t.Fatalf("after the ejection time: picks %v, want 10 each", got)
		}
		observeAll(c, bad, results(500, 500)...)
		if bad.health.ejected(time.Now()) {
			t.Fatal("ejected again after 2 errors, want 3")
		}
		observeAll(c, bad, results(500)...)
		if !bad.health.ejected(time.Now()) {
			t.Fatal("not ejected again after 3 errors")
		}
		time.Sleep(20*time.Second - time.Millisecond) // the second ejection lasts twice as long
		if !bad.health.ejected(time.Now()) {
			t.Fatal("the second ejection ended before 20 s")
		}
		time.Sleep(time.Millisecond)
		if bad.health.ejected(time.Now()) {
			t.Fatal("the second ejection lasted more than 20 s")
		}
	})
}

// Requests in flight when an endpoint is ejected, or sent to it while it
// is out of rotation (panic), may fail after its ejection: that says
// nothing new, and it takes a full run of errors after its return to
// eject it again (Envoy resets the counts on return).
func TestOutlierErrorsWhileEjectedDoNotCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := outlierCluster(3, &OutlierDetection{Consecutive5xxErrors: u32(3), BaseEjectionTime: apiDuration(10 * time.Second), MaxEjectionPercent: i32(50)})
		bad := c.Endpoints[0]
		observeAll(c, bad, results(500, 500, 500)...)
		observeAll(c, bad, results(500, 500, 500, 500)...) // in flight when it was ejected
		time.Sleep(10 * time.Second)
		observeAll(c, bad, results(500, 500)...)
		if bad.health.ejected(time.Now()) {
			t.Fatalf("ejected again on its return after 2 errors, want 3 (ejected until %v)", bad.health.ejectedUntil)
		}
		observeAll(c, bad, results(500)...)
		if !bad.health.ejected(time.Now()) {
			t.Fatal("not ejected again after 3 errors")
		}
	})
}

// With minHealthPercent (Envoy's panic threshold), a cluster with too few
// healthy endpoints ignores ejections; Istio's default of 0 never does.
func TestOutlierPanicThreshold(t *testing.T) {
	tests := []struct {
		name      string
		od        *OutlierDetection
		ejected   int // of 4
		panicking bool
		want      []int // endpoints picked in 40 picks
	}{
		{"no outlierDetection", nil, 0, false, []int{0, 1, 2, 3}},
		{"healthy", &OutlierDetection{MinHealthPercent: 50}, 0, false, []int{0, 1, 2, 3}},
		{"at the threshold", &OutlierDetection{MinHealthPercent: 50}, 2, false, []int{2, 3}},
		{"below the threshold", &OutlierDetection{MinHealthPercent: 50}, 3, true, []int{0, 1, 2, 3}},
		{"100% panics on one ejection", &OutlierDetection{MinHealthPercent: 100}, 1, true, []int{0, 1, 2, 3}},
		{"0 never panics", &OutlierDetection{}, 3, false, []int{3}},
		{"0 never panics, none left", &OutlierDetection{}, 4, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := outlierCluster(4, tt.od)
			now := time.Now()
			for _, ep := range c.Endpoints[:tt.ejected] {
				ep.health.ejectedUntil = now.Add(time.Hour)
			}
			if got := c.panicking(now); got != tt.panicking {
				t.Errorf("panicking = %v, want %v", got, tt.panicking)
			}
			seen := map[int]bool{}
			for range 40 {
				if ep := c.Pick("", nil); ep != nil {
					seen[slices.Index(c.Endpoints, ep)] = true
				}
			}
			got := slices.Sorted(maps.Keys(seen))
			if !slices.Equal(got, tt.want) {
				t.Errorf("picked %v, want %v", got, tt.want)
			}
		})
	}
}
