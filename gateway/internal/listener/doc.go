// Package listener is gatehouse's edge: it compiles the Gateway kind into
// listener configurations and runs the sockets that serve them.
//
// Compile (build.go, gateways.go, tlsbuild.go, schema.go, hosts.go):
// GatewayServers validates the servers of every Gateway, and Build groups
// them by bind address and port (Key) into one Config per socket: its
// protocol family (HTTP, TLS, TCP), the route table of plaintext HTTP
// servers, the certificate store and per-server tables of terminating TLS
// servers, the SNI table of passthrough ones, the TCP routes, and what the
// mesh settings and Gateway annotations say for the port (PROXY protocol,
// trusted hops, XFCC, path normalization, request limits). Build learns
// about upstreams only through BuildOptions.Resolve.
//
// Run (listener.go, demux.go, conn.go, h1edge.go, h2edge.go, h2c.go,
// connlimit.go, fdlimit.go, proxyrefuse.go, ratelog.go): a Listener owns
// one socket across reloads. For each connection it reads the Config of
// the generation then serving (Deps.Current), applies the connection cap,
// reads and checks a PROXY header from trusted peers (refusing, counting
// and logging the others), and then:
//   - HTTP ports: the HTTP/1.1 request validator (h1guard) and the HTTP/2
//     rapid-reset guard (h2guard) in front of net/http's server, with h2c;
//   - TLS ports: peeks the ClientHello, passes through by SNI, or
//     terminates TLS and hands the connection to HTTP/1.1 or HTTP/2 by
//     ALPN, or to a TCP route;
//   - TCP ports: a TCP route.
//
// HTTP requests go to the http.Handler given to New; TCP routes and
// refused requests go back to the server through Deps. The listener never
// sees the server's snapshot: Deps.Current hands it an opaque generation
// that it gives back to Deps.Forward.
//
// ConnInfo is what the request pipeline learns about a connection beyond
// net/http: the socket peer (which a PROXY header hides from RemoteAddr),
// the local address, whether the client address came from a PROXY header,
// the TLS state behind the request validator, and the validator itself.
// It is recorded in each request's context (ConnInfoOf).
//
// The package imports neither gateway nor the upstream side.
package listener
