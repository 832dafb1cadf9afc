package listener

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/router"
	gwtls "github.com/gatehouse-proxy/gatehouse/tls"
)

// tlsMode returns a server's TLS mode, Istio's default (PASSTHROUGH) when
// the tls block has none.
func tlsMode(s *Server) string {
	if s.Spec.TLS == nil {
		return ""
	}
	if m := strings.ToUpper(s.Spec.TLS.Mode); m != "" {
		return m
	}
	return "PASSTHROUGH"
}

// buildTLSListener compiles a port of TLS servers: a certificate store and
// route table per terminating server, an SNI table for passthrough.
func buildTLSListener(lc *Config, vss []*router.VS, o BuildOptions, ps *config.Problems) {
	var settings []gwtls.ServerSettings
	var owners []*Server
	var passthrough []router.Server
	for _, s := range lc.Servers {
		switch mode := tlsMode(s); mode {
		case "PASSTHROUGH":
			checkPassthroughCerts(s, ps)
			passthrough = append(passthrough, RouterServers([]*Server{s})...)
		case "SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL":
			if st, ok := serverSettings(s, mode, o.CredentialsDir, ps); ok {
				o.certFiles(st.CertFile, st.KeyFile, st.CAFile, st.CRLFile)
				st.Path = fmt.Sprintf("#%p#%s", s, st.Path) // see attributeTLSErrors
				settings = append(settings, st)
				owners = append(owners, s)
			}
		default:
			ps.Errf(s.Res, s.Path()+".tls.mode", "mode %s needs Istio's certificate authority or its mesh-internal routing; gatehouse serves SIMPLE, MUTUAL, OPTIONAL_MUTUAL and PASSTHROUGH", mode)
		}
	}
	if len(settings) > 0 {
		store, errs := gwtls.NewStore(settings)
		attributeTLSErrors(errs, owners, ps)
		lc.TLS = store
		for _, s := range owners {
			t := Terminated{Server: s}
			if s.Protocol == "HTTPS" {
				t.Routes = router.BuildTable(RouterServers([]*Server{s}), vss, o.Resolve)
			} else {
				t.TCP = router.BuildTCP(RouterServers([]*Server{s})[0], vss, o.Resolve)
			}
			lc.Terminated = append(lc.Terminated, t)
		}
	}
	if len(passthrough) > 0 {
		lc.Passthrough = router.BuildPassthrough(passthrough, vss, o.Resolve)
		if lc.Passthrough.Empty() {
			for _, s := range lc.Servers {
				if tlsMode(s) == "PASSTHROUGH" {
					ps.Warnf(s.Res, s.Path(), "no VirtualService has tls routes for this PASSTHROUGH server: connections to it are closed")
				}
			}
		}
	}
}

// checkPassthroughCerts warns, as Istio's validation does, that a
// PASSTHROUGH server (including a tls block without mode) ignores
// certificates.
func checkPassthroughCerts(s *Server, ps *config.Problems) {
	t := s.Spec.TLS
	if t.ServerCertificate != "" || t.PrivateKey != "" || t.CredentialName != "" {
		ps.Warnf(s.Res, s.Path()+".tls", "PASSTHROUGH mode does not use certificates, they will be ignored (a tls block without mode is PASSTHROUGH; set mode: SIMPLE to terminate TLS)")
	}
}

// serverSettings describes a terminating server to the tls package.
func serverSettings(s *Server, mode, credDir string, ps *config.Problems) (gwtls.ServerSettings, bool) {
	t := s.Spec.TLS
	p := s.Path() + ".tls"
	st := gwtls.ServerSettings{
		Names: serverNames(s.Hosts), CertFile: t.ServerCertificate, KeyFile: t.PrivateKey, CAFile: t.CACertificates,
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
	if s.Protocol == "HTTPS" {
		st.NextProtos = []string{"h2", "http/1.1"}
	}
	name := t.CredentialName
	if name == "" && len(t.CredentialNames) > 0 {
		name = t.CredentialNames[0]
		if len(t.CredentialNames) > 1 {
			ps.Warnf(s.Res, p+".credentialNames", "gatehouse serves one certificate per server: only %q is used", name)
		}
	}
	if name == "" {
		return st, true
	}
	if st.CertFile != "" {
		ps.Errf(s.Res, p, "only one of serverCertificate/privateKey and credentialName may be set")
		return st, false
	}
	if credDir == "" {
		ps.Errf(s.Res, p+".credentialName", "credentialName needs --credentials-dir (a directory laid out like mounted Kubernetes TLS secrets: NAME/tls.crt, NAME/tls.key)")
		return st, false
	}
	cert, key, ca, err := gwtls.ResolveCredential(credDir, name)
	if err != nil {
		ps.Errf(s.Res, p+".credentialName", "%v", err)
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
func attributeTLSErrors(errs []error, owners []*Server, ps *config.Problems) {
	for _, err := range errs {
		fe, ok := errors.AsType[*api.FieldError](err)
		var owner *Server
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
		ps.Add(owner.Res.Problem(err, api.IsWarning(err)))
	}
}
