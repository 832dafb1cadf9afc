package gateway

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	gwtls "github.com/gatehouse-proxy/gatehouse/tls"
)

// upstreamTLS is a compiled DestinationRule tls block.
type upstreamTLS struct {
	cfg *tls.Config
	// key identifies the settings and the contents of their files, so a
	// rotated certificate makes new pools instead of reusing old ones.
	key string
}

// forHost returns the configuration for an upstream named host: the
// rule's sni if it set one, else the host itself, which the upstream's
// certificate is then checked against.
func (u *upstreamTLS) forHost(host string) *tls.Config {
	if u.cfg.ServerName != "" {
		return u.cfg
	}
	c := u.cfg.Clone()
	c.ServerName = strings.TrimSuffix(hostOf(host), ".")
	return c
}

// compileClientTLS loads the certificates of every tls block of a
// DestinationRule, recording problems at their fields.
func (reg *registry) compileClientTLS(dr *destRule, ps *config.Problems) {
	each := func(path string, tp *upstream.TrafficPolicy) {
		if tp == nil {
			return
		}
		reg.addClientTLS(dr, path+".tls", tp.TLS, ps)
		for i := range tp.PortLevelSettings {
			reg.addClientTLS(dr, fmt.Sprintf("%s.portLevelSettings[%d].tls", path, i), tp.PortLevelSettings[i].TLS, ps)
		}
	}
	each("spec.trafficPolicy", dr.spec.TrafficPolicy)
	for i := range dr.spec.Subsets {
		each(fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), dr.spec.Subsets[i].TrafficPolicy)
	}
}

func (reg *registry) addClientTLS(dr *destRule, path string, t *upstream.ClientTLSSettings, ps *config.Problems) {
	if t == nil {
		return
	}
	settings := gwtls.ClientSettings{
		Mode: strings.ToUpper(t.Mode), CertFile: t.ClientCertificate, KeyFile: t.PrivateKey, CAFile: t.CACertificates,
		SNI: t.SNI, SubjectAltNames: t.SubjectAltNames, InsecureSkipVerify: t.InsecureSkipVerify != nil && *t.InsecureSkipVerify,
		Path: path,
	}
	if t.CredentialName != "" {
		if reg.credentialsDir == "" {
			ps.Errf(dr.res, path+".credentialName", "credentialName needs --credentials-dir (a directory laid out like mounted Kubernetes secrets)")
			return
		}
		cert, key, ca, err := gwtls.ResolveCredential(reg.credentialsDir, t.CredentialName)
		if err != nil {
			ps.Errf(dr.res, path+".credentialName", "%v", err)
			return
		}
		settings.CertFile, settings.KeyFile = cert, key
		if settings.CAFile == "" {
			settings.CAFile = ca
		}
	}
	reg.env.addCertFiles(settings.CertFile, settings.KeyFile, settings.CAFile)
	cfg, err := gwtls.ClientConfig(settings)
	if err != nil {
		ps.ResourceErrs(dr.res, []error{err})
		return
	}
	if cfg == nil {
		return
	}
	reg.clientTLS[t] = &upstreamTLS{cfg: cfg, key: tlsKey(settings)}
}

// tlsKey digests the settings and the files they name.
func tlsKey(s gwtls.ClientSettings) string {
	h := sha256.New()
	fmt.Fprintf(h, "%+v", s)
	for _, f := range []string{s.CertFile, s.KeyFile, s.CAFile} {
		if f != "" {
			data, _ := os.ReadFile(f)
			h.Write(data)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
