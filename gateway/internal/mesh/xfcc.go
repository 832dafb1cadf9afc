package mesh

import (
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
)

// XFCCMode is gatewayTopology.forwardClientCertDetails.
type XFCCMode uint8

// The forwardClientCertDetails values, as Envoy applies them.
const (
	// XFCCSanitizeSet (also UNDEFINED, Istio's gateway default): the
	// client's header is dropped; an mTLS client's certificate is sent.
	XFCCSanitizeSet XFCCMode = iota
	// XFCCSanitize: the header is never sent.
	XFCCSanitize
	// XFCCForwardOnly: the client's header is forwarded on mTLS
	// connections only.
	XFCCForwardOnly
	// XFCCAppendForward: on mTLS connections the certificate is appended
	// to the client's header.
	XFCCAppendForward
	// XFCCAlwaysForwardOnly: the client's header is always forwarded.
	XFCCAlwaysForwardOnly
)

// ParseXFCCMode reads a forwardClientCertDetails value.
func ParseXFCCMode(r *config.Resource, path, v string, ps *config.Problems) XFCCMode {
	switch strings.ToUpper(v) {
	case "", "UNDEFINED", "SANITIZE_SET":
		return XFCCSanitizeSet
	case "SANITIZE":
		return XFCCSanitize
	case "FORWARD_ONLY":
		return XFCCForwardOnly
	case "APPEND_FORWARD":
		return XFCCAppendForward
	case "ALWAYS_FORWARD_ONLY":
		return XFCCAlwaysForwardOnly
	}
	ps.Errf(r, path, "forwardClientCertDetails %q: want SANITIZE, FORWARD_ONLY, APPEND_FORWARD, SANITIZE_SET or ALWAYS_FORWARD_ONLY", v)
	return XFCCSanitizeSet
}
