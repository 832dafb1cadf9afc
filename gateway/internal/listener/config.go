package listener

import (
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/router"
	gwtls "github.com/gatehouse-proxy/gatehouse/tls"
)

// Config is what one socket does in this generation.
type Config struct {
	Key     Key
	Family  Family
	Servers []*Server
	// Proxy is how PROXY protocol headers are taken; nil: they are not.
	Proxy *mesh.ProxySettings
	// TrustedHops is numTrustedProxies for X-Forwarded-For.
	TrustedHops uint32
	// XFCC is forwardClientCertDetails: what happens to
	// X-Forwarded-Client-Cert.
	XFCC mesh.XFCCMode
	// PathMode is the mesh's pathNormalization.
	PathMode router.PathMode
	// Options are the Gateways' request-handling annotations (";" path
	// parameters, headers with underscores), merged.
	Options mesh.GatewayOptions
	// H2C allows HTTP/1.1 connections to upgrade to HTTP/2 (Upgrade: h2c);
	// set when a server on the port speaks HTTP2 or GRPC.
	H2C bool

	// Routes is the route table shared by every plain HTTP server.
	Routes *router.Table

	// TLS holds the certificates of the terminating servers, chosen by
	// SNI; terminated[i] is the server at store index i, with its own route
	// table (HTTPS) or TCP routes (protocol TLS).
	TLS        *gwtls.Store
	Terminated []Terminated
	// Passthrough routes TLS connections by SNI without terminating them.
	Passthrough *router.L4Table

	// TCP routes the connections of a TCP server.
	TCP *router.L4Table
}

// Terminated is one TLS-terminating Gateway server.
type Terminated struct {
	Server *Server
	Routes *router.Table   // protocol HTTPS
	TCP    *router.L4Table // protocol TLS: the stream after the handshake
}

// OnlyHTTPS reports whether every connection is TLS terminated as HTTPS,
// so the handshake can happen in the HTTP server without peeking first.
func (lc *Config) OnlyHTTPS() bool {
	if lc.Passthrough != nil {
		return false
	}
	for _, t := range lc.Terminated {
		if t.Routes == nil {
			return false
		}
	}
	return true
}
