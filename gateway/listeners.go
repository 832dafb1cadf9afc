package gateway

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/router"
	gwtls "github.com/gatehouse-proxy/gatehouse/tls"
)

// listenerConfig is what one socket does in this generation.
type listenerConfig struct {
	key     listenerKey
	family  family
	servers []*gwServer
	// proxy is how PROXY protocol headers are taken; nil: they are not.
	proxy *mesh.ProxySettings
	// trustedHops is numTrustedProxies for X-Forwarded-For.
	trustedHops uint32
	// xfcc is forwardClientCertDetails: what happens to
	// X-Forwarded-Client-Cert.
	xfcc mesh.XFCCMode
	// pathMode is the mesh's pathNormalization.
	pathMode router.PathMode
	// options are the Gateways' request-handling annotations (";" path
	// parameters, headers with underscores), merged.
	options mesh.GatewayOptions
	// h2c allows HTTP/1.1 connections to upgrade to HTTP/2 (Upgrade: h2c);
	// set when a server on the port speaks HTTP2 or GRPC.
	h2c bool

	// routes is the route table shared by every plain HTTP server.
	routes *router.Table

	// tls holds the certificates of the terminating servers, chosen by
	// SNI; terminated[i] is the server at store index i, with its own route
	// table (HTTPS) or TCP routes (protocol TLS).
	tls        *gwtls.Store
	terminated []terminatedServer
	// passthrough routes TLS connections by SNI without terminating them.
	passthrough *router.L4Table

	// tcp routes the connections of a TCP server.
	tcp *router.L4Table
}

// terminatedServer is one TLS-terminating Gateway server.
type terminatedServer struct {
	server *gwServer
	routes *router.Table   // protocol HTTPS
	tcp    *router.L4Table // protocol TLS: the stream after the handshake
}

// onlyHTTPS reports whether every connection is TLS terminated as HTTPS,
// so the handshake can happen in the HTTP server without peeking first.
func (lc *listenerConfig) onlyHTTPS() bool {
	if lc.passthrough != nil {
		return false
	}
	for _, t := range lc.terminated {
		if t.routes == nil {
			return false
		}
	}
	return true
}

// tlsMode returns a server's TLS mode, Istio's default (PASSTHROUGH) when
// the tls block has none.
func tlsMode(s *gwServer) string {
	if s.spec.TLS == nil {
		return ""
	}
	if m := strings.ToUpper(s.spec.TLS.Mode); m != "" {
		return m
	}
	return "PASSTHROUGH"
}

// buildTLSListener compiles a port of TLS servers: a certificate store and
// route table per terminating server, an SNI table for passthrough.
func buildTLSListener(lc *listenerConfig, vss []*router.VS, b *clusterBuilder, env compileEnv, ps *config.Problems) {
	var settings []gwtls.ServerSettings
	var owners []*gwServer
	var passthrough []router.Server
	for _, s := range lc.servers {
		switch mode := tlsMode(s); mode {
		case "PASSTHROUGH":
			checkPassthroughCerts(s, ps)
			passthrough = append(passthrough, routerServers([]*gwServer{s})...)
		case "SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL":
			if st, ok := serverSettings(s, mode, env.credentialsDir, ps); ok {
				env.addCertFiles(st.CertFile, st.KeyFile, st.CAFile, st.CRLFile)
				st.Path = fmt.Sprintf("#%p#%s", s, st.Path) // see attributeTLSErrors
				settings = append(settings, st)
				owners = append(owners, s)
			}
		default:
			ps.Errf(s.res, s.path()+".tls.mode", "mode %s needs Istio's certificate authority or its mesh-internal routing; gatehouse serves SIMPLE, MUTUAL, OPTIONAL_MUTUAL and PASSTHROUGH", mode)
		}
	}
	if len(settings) > 0 {
		store, errs := gwtls.NewStore(settings)
		attributeTLSErrors(errs, owners, ps)
		lc.tls = store
		for _, s := range owners {
			t := terminatedServer{server: s}
			if s.protocol == "HTTPS" {
				t.routes = router.BuildTable(routerServers([]*gwServer{s}), vss, b.resolve)
			} else {
				t.tcp = router.BuildTCP(routerServers([]*gwServer{s})[0], vss, b.resolve)
			}
			lc.terminated = append(lc.terminated, t)
		}
	}
	if len(passthrough) > 0 {
		lc.passthrough = router.BuildPassthrough(passthrough, vss, b.resolve)
		if lc.passthrough.Empty() {
			for _, s := range lc.servers {
				if tlsMode(s) == "PASSTHROUGH" {
					ps.Warnf(s.res, s.path(), "no VirtualService has tls routes for this PASSTHROUGH server: connections to it are closed")
				}
			}
		}
	}
}

// checkPassthroughCerts warns, as Istio's validation does, that a
// PASSTHROUGH server (including a tls block without mode) ignores
// certificates.
func checkPassthroughCerts(s *gwServer, ps *config.Problems) {
	t := s.spec.TLS
	if t.ServerCertificate != "" || t.PrivateKey != "" || t.CredentialName != "" {
		ps.Warnf(s.res, s.path()+".tls", "PASSTHROUGH mode does not use certificates, they will be ignored (a tls block without mode is PASSTHROUGH; set mode: SIMPLE to terminate TLS)")
	}
}

// serverSettings describes a terminating server to the tls package.
func serverSettings(s *gwServer, mode, credDir string, ps *config.Problems) (gwtls.ServerSettings, bool) {
	t := s.spec.TLS
	p := s.path() + ".tls"
	st := gwtls.ServerSettings{
		Names: serverNames(s.hosts), CertFile: t.ServerCertificate, KeyFile: t.PrivateKey, CAFile: t.CACertificates,
		CRLFile: t.CACrl, SubjectAltNames: t.SubjectAltNames, VerifyCertificateSpki: t.VerifyCertificateSpki,
		VerifyCertificateHash: t.VerifyCertificateHash, MinVersion: t.MinProtocolVersion, MaxVersion: t.MaxProtocolVersion,
		CipherSuites: t.CipherSuites, InsecureSkipVerify: t.InsecureSkipVerify != nil && *t.InsecureSkipVerify,
		Path: p,
	}
	switch mode {
	case "MUTUAL":
		st.Mode = gwtls.Mutual
	case "OPTIONAL_MUTUAL":
		st.Mode = gwtls.OptionalMutual
	}
	if s.protocol == "HTTPS" {
		st.NextProtos = []string{"h2", "http/1.1"}
	}
	name := t.CredentialName
	if name == "" && len(t.CredentialNames) > 0 {
		name = t.CredentialNames[0]
		if len(t.CredentialNames) > 1 {
			ps.Warnf(s.res, p+".credentialNames", "gatehouse serves one certificate per server: only %q is used", name)
		}
	}
	if name == "" {
		return st, true
	}
	if st.CertFile != "" {
		ps.Errf(s.res, p, "only one of serverCertificate/privateKey and credentialName may be set")
		return st, false
	}
	if credDir == "" {
		ps.Errf(s.res, p+".credentialName", "credentialName needs --credentials-dir (a directory laid out like mounted Kubernetes TLS secrets: NAME/tls.crt, NAME/tls.key)")
		return st, false
	}
	cert, key, ca, err := gwtls.ResolveCredential(credDir, name)
	if err != nil {
		ps.Errf(s.res, p+".credentialName", "%v", err)
		return st, false
	}
	st.CertFile, st.KeyFile = cert, key
	// A secret's ca.crt (cert-manager always writes one) only matters when
	// the server asks for client certificates; Istio ignores it otherwise.
	if st.CAFile == "" && st.Mode != gwtls.Simple {
		st.CAFile = ca
	}
	return st, true
}

// serverNames returns the SNI names of a server: its hosts without their
// namespace.
func serverNames(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if _, name, ok := strings.Cut(h, "/"); ok {
			h = name
		}
		out = append(out, h)
	}
	return out
}

// attributeTLSErrors reports the tls package's problems against the
// server they are about: its Path names the server's tls block.
func attributeTLSErrors(errs []error, owners []*gwServer, ps *config.Problems) {
	for _, err := range errs {
		fe, ok := errors.AsType[*api.FieldError](err)
		var owner *gwServer
		for _, s := range owners {
			if ok && strings.HasPrefix(fe.Path, fmt.Sprintf("#%p#", s)) {
				owner = s
			}
		}
		if owner == nil {
			owner = owners[0]
		}
		if ok {
			fe.Path = strings.TrimPrefix(fe.Path, fmt.Sprintf("#%p#", owner))
		}
		ps.Add(owner.res.Problem(err, api.IsWarning(err)))
	}
}
