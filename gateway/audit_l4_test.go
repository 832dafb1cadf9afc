package gateway

import (
	"fmt"
	"io"
	"math"
	"net"
	"testing"
)

// nameServer is a TCP upstream that writes its name and closes.
func nameServer(t *testing.T, name string) uint32 {
	return rawUpstream(t, func(c net.Conn) {
		io.WriteString(c, name)
		c.Close()
	})
}

// TCP routes: destinationSubnets picks the route by the address the
// client connected to, and a weighted route splits connections.
func TestAuditTCPRouteMatchAndWeights(t *testing.T) {
	t.Parallel()
	a, b, never := nameServer(t, "a"), nameServer(t, "b"), nameServer(t, "never")
	g := startGW(t, map[string]string{
		"gw.yaml": tcpGateway,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{port: 9000, destinationSubnets: [10.0.0.0/8]}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{port: 9000, destinationSubnets: [127.0.0.0/8]}]
    route:
    - {destination: {host: 127.0.0.1, port: {number: %d}}, weight: 80}
    - {destination: {host: 127.0.0.1, port: {number: %d}}, weight: 20}
`, never, a, b),
	})
	const n = 500
	counts := map[string]int{}
	for range n {
		c := g.dial(9000)
		got, _ := io.ReadAll(c)
		c.Close()
		counts[string(got)]++
	}
	if counts["never"] != 0 {
		t.Errorf("the 10.0.0.0/8 route took %d connections made to 127.0.0.1", counts["never"])
	}
	if share := float64(counts["a"]) / n; math.Abs(share-0.8) > 0.06 || counts["a"]+counts["b"] != n {
		t.Errorf("weights 80/20 gave %v", counts)
	}
}
