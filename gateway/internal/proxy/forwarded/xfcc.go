package forwarded

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
)

// setClientCert applies the mode to X-Forwarded-Client-Cert. The
// client's header is trusted only where the mode says so; it is never
// read by policy.
func setClientCert(h http.Header, cs *tls.ConnectionState, ci *listener.ConnInfo, mode mesh.XFCCMode) {
	mtls := cs != nil && len(cs.PeerCertificates) > 0
	const k = "X-Forwarded-Client-Cert"
	switch {
	case mode == mesh.XFCCAlwaysForwardOnly, mode == mesh.XFCCForwardOnly && mtls:
	case !mtls || mode == mesh.XFCCSanitize || mode == mesh.XFCCForwardOnly:
		delete(h, k)
	case mode == mesh.XFCCAppendForward && len(h[k]) > 0:
		h[k] = []string{strings.Join(h[k], ",") + "," + clientCertHeader(cs, ci)}
	default:
		h[k] = []string{clientCertHeader(cs, ci)}
	}
}

// clientCertHeader is the X-Forwarded-Client-Cert element for an mTLS
// client, as an Istio gateway writes it: Hash, Cert, Subject, URI and DNS
// of the verified client certificate. It is worked out once per
// connection.
func clientCertHeader(cs *tls.ConnectionState, ci *listener.ConnInfo) string {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return ""
	}
	if p := ci.XFCC.Load(); p != nil {
		return *p
	}
	v := formatXFCC(cs)
	ci.XFCC.Store(&v)
	return v
}

// pemEscaper URL-encodes a PEM block as Envoy's XFCC Cert does.
var pemEscaper = strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D")

// formatXFCC builds the header value in Envoy's element order.
func formatXFCC(cs *tls.ConnectionState) string {
	c := cs.PeerCertificates[0]
	sum := sha256.Sum256(c.Raw)
	var b strings.Builder
	b.WriteString("Hash=")
	b.WriteString(hex.EncodeToString(sum[:]))
	b.WriteString(`;Cert="`)
	b.WriteString(pemEscaper.Replace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))))
	b.WriteString(`";Subject="`)
	b.WriteString(strings.ReplaceAll(c.Subject.String(), `"`, `\"`))
	b.WriteString(`"`)
	for _, u := range c.URIs {
		b.WriteString(";URI=")
		b.WriteString(u.String())
	}
	for _, d := range c.DNSNames {
		b.WriteString(";DNS=")
		b.WriteString(d)
	}
	return b.String()
}
