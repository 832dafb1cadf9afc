// Package upstream holds the schema of the kinds that describe upstreams:
// networking.istio.io ServiceEntry (hosts, ports, endpoints) and
// DestinationRule (subsets and traffic policy: load balancer, connection
// pool, outlier detection, upstream TLS), as decoded from YAML. The
// gateway package compiles them into clusters.
package upstream
