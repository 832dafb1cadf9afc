package gateway

import "strings"

// Annotations on a Gateway that set how its listeners treat requests.
const (
	// AnnotationPathParameters, on a Gateway, says what its listeners do
	// with a path holding ";" parameters ("/a;jsessionid=1", "/..;/x"),
	// which Java servers strip before matching while policy and routes
	// do not: "reject" (default: 400) or "keep" (forwarded as received,
	// as Istio does).
	AnnotationPathParameters = "gatehouse.io/path-parameters"
	// AnnotationHeadersWithUnderscores, on a Gateway, says what its
	// listeners do with a request header whose name holds "_"
	// ("X_Forwarded_For"), which CGI and WSGI upstreams read as the same
	// header as "X-Forwarded-For": "reject" (default: 400, Envoy's edge
	// advice headers_with_underscores_action REJECT_REQUEST), "drop" (the
	// header is removed and the request served) or "allow" (forwarded).
	AnnotationHeadersWithUnderscores = "gatehouse.io/headers-with-underscores"
)

// underscoreAction is what a listener does with a header whose name holds
// an underscore. The zero value is the default, and the strictest.
type underscoreAction uint8

const (
	underscoresReject underscoreAction = iota
	underscoresDrop
	underscoresAllow
)

func (a underscoreAction) String() string {
	return [...]string{"reject", "drop", "allow"}[a]
}

// gatewayOptions are the request-handling annotations of one Gateway.
type gatewayOptions struct {
	keepParams  bool
	underscores underscoreAction
}

// gatewayOptionsOf reads the annotations of a Gateway resource.
func gatewayOptionsOf(r *resource, ps *problems) gatewayOptions {
	var o gatewayOptions
	ann := r.Meta.Annotations
	switch v := ann[AnnotationPathParameters]; v {
	case "", "reject":
	case "keep":
		o.keepParams = true
	default:
		ps.errf(r, "metadata.annotations", "%s: %q: want reject or keep", AnnotationPathParameters, v)
	}
	switch v := strings.ToLower(ann[AnnotationHeadersWithUnderscores]); v {
	case "", "reject":
	case "drop":
		o.underscores = underscoresDrop
	case "allow":
		o.underscores = underscoresAllow
	default:
		ps.errf(r, "metadata.annotations", "%s: %q: want reject, drop or allow", AnnotationHeadersWithUnderscores, v)
	}
	return o
}

// merge combines the options of the Gateways sharing a listener: ";"
// parameters are kept if any of them keeps them (as before), and headers
// with underscores get the strictest action of them all.
func (o gatewayOptions) merge(other gatewayOptions) gatewayOptions {
	o.keepParams = o.keepParams || other.keepParams
	o.underscores = min(o.underscores, other.underscores)
	return o
}
