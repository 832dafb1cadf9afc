package upstream

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	gwtls "github.com/gatehouse-proxy/gatehouse/tls"
)

// ClientTLS is a compiled DestinationRule tls block.
type ClientTLS struct {
	cfg *tls.Config
	// Key identifies the settings and the contents of their files, so a
	// rotated certificate makes new pools instead of reusing old ones.
	Key string
}

// ForHost returns the configuration for an upstream named host: the
// rule's sni if it set one, else the host itself, which the upstream's
// certificate is then checked against.
func (u *ClientTLS) ForHost(host string) *tls.Config {
	if u.cfg.ServerName != "" {
		return u.cfg
	}
	c := u.cfg.Clone()
	c.ServerName = strings.TrimSuffix(transport.HostOf(host), ".")
	return c
}

// compileClientTLS loads the certificates of every tls block of a
// DestinationRule, recording problems at their fields.
func (reg *Registry) compileClientTLS(dr *DestRule, ps *config.Problems) {
	each := func(path string, tp *TrafficPolicy) {
		if tp == nil {
			return
		}
		reg.addClientTLS(dr, path+".tls", tp.TLS, ps)
		for i := range tp.PortLevelSettings {
			reg.addClientTLS(dr, fmt.Sprintf("%s.portLevelSettings[%d].tls", path, i), tp.PortLevelSettings[i].TLS, ps)
		}
	}
	each("spec.trafficPolicy", dr.Spec.TrafficPolicy)
	for i := range dr.Spec.Subsets {
		each(fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), dr.Spec.Subsets[i].TrafficPolicy)
	}
}

func (reg *Registry) addClientTLS(dr *DestRule, path string, t *ClientTLSSettings, ps *config.Problems) {
	if t == nil {
		return
	}
	settings := gwtls.ClientSettings{
		Mode: strings.ToUpper(t.Mode), CertFile: t.ClientCertificate, KeyFile: t.PrivateKey, CAFile: t.CACertificates,
		SNI: t.SNI, SubjectAltNames: t.SubjectAltNames, InsecureSkipVerify: t.InsecureSkipVerify != nil && *t.InsecureSkipVerify,
		Path: path,
	}
	if t.CredentialName != "" {
		if reg.opts.CredentialsDir == "" {
			ps.Errf(dr.Res, path+".credentialName", "credentialName needs --credentials-dir (a directory laid out like mounted Kubernetes secrets)")
			return
		}
		cert, key, ca, err := gwtls.ResolveCredential(reg.opts.CredentialsDir, t.CredentialName)
		if err != nil {
			ps.Errf(dr.Res, path+".credentialName", "%v", err)
			return
		}
		settings.CertFile, settings.KeyFile = cert, key
		if settings.CAFile == "" {
			settings.CAFile = ca
		}
	}
	if reg.opts.CertFiles != nil {
		reg.opts.CertFiles(settings.CertFile, settings.KeyFile, settings.CAFile)
	}
	cfg, err := gwtls.ClientConfig(settings)
	if err != nil {
		ps.ResourceErrs(dr.Res, []error{err})
		return
	}
	if cfg == nil {
		return
	}
	reg.clientTLS[t] = &ClientTLS{cfg: cfg, Key: tlsKey(settings)}
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
