package authz

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The local reply bodies of an Istio gateway (istio-api.md 11).
const (
	// BodyRBACDenied is Envoy RBAC's 403 body.
	BodyRBACDenied = "RBAC: access denied"
	// BodyOriginAuthFailed is the legacy Istio authn filter's 401 body.
	BodyOriginAuthFailed = "Origin authentication failed."
	// BodyJwtNotUnique is the 401 body for a request that carries more
	// than one token. Envoy has no such reply (it verifies each token);
	// the text follows its jwt_authn status strings.
	BodyJwtNotUnique = "Jwt is not unique"
)

// Response is a rejection to send instead of proxying the request.
type Response struct {
	// Status is 401, or 403 for a disallowed audience.
	Status int
	// Body is Envoy's status string, such as "Jwt is expired".
	Body string
	// WWWAuthenticate is the www-authenticate value:
	// `Bearer realm="http://host/path", error="invalid_token"`.
	WWWAuthenticate string
}

// Write sends the response as Envoy's local reply: text/plain, the body,
// and www-authenticate when set.
func (r *Response) Write(w http.ResponseWriter) {
	writeLocal(w, r.Status, r.Body, r.WWWAuthenticate)
}

func writeLocal(w http.ResponseWriter, status int, body, wwwAuth string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if wwwAuth != "" {
		h.Set("Www-Authenticate", wwwAuth)
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// rejection builds the local reply for a failed token.
func rejection(r *Request, err *authnError) *Response {
	return &Response{
		Status:          err.status,
		Body:            err.body,
		WWWAuthenticate: `Bearer realm="` + realm(r) + `", error="invalid_token"`,
	}
}

// realm is "<scheme>://<host><path>" as Envoy's buildOriginalUri builds it
// (no query), from the normalized Request.Host, so without a port; quotes,
// backslashes and control characters are escaped so that the header
// cannot be broken.
func realm(r *Request) string {
	scheme := r.Scheme
	if scheme == "" {
		scheme = "http"
	}
	s := scheme + "://" + r.Host + r.Path
	if !strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f || c == '"' || c == '\\' }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Reasons a Decision was reached, as constant strings for access logs.
const (
	ReasonNoEngine       = "no policies"
	ReasonNoAllowPolicy  = "no ALLOW policy applies"
	ReasonAllowMatched   = "ALLOW policy matched"
	ReasonDenyMatched    = "DENY policy matched"
	ReasonNoAllowMatched = "no ALLOW policy matched"
	ReasonOriginFailed   = "legacy origin authentication failed"
)

// Decision is the outcome of Authorize.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Status and Body are what to send when denied: 403 "RBAC: access
	// denied", or 401 "Origin authentication failed." for a legacy Policy.
	Status int
	Body   string
	// Reason is one of the Reason constants.
	Reason string
	// Action is the deciding policy's action ("" when no policy decided).
	Action Action
	// Policy is the deciding policy's "namespace/name", "" if none.
	Policy string
	// Rule is the index of the matching rule in spec.rules, -1 if none.
	Rule int
	// Audit is set when an AUDIT policy matched; AuditPolicy names it.
	Audit       bool
	AuditPolicy string
	// DryRun is what the dry-run policies would have decided.
	DryRun DryRun
}

// DryRun is the verdict of the istio.io/dry-run policies (and PERMISSIVE
// legacy RBAC), which is recorded but never enforced.
type DryRun struct {
	// Evaluated is set when any dry-run policy applies.
	Evaluated bool
	// Allowed is the shadow verdict.
	Allowed bool
	// Policy and Rule name the deciding shadow policy ("" and -1 if none).
	Policy string
	Rule   int
}

// Write sends a denial as Envoy's local reply (text/plain). It must only
// be called when d.Allowed is false.
func (d *Decision) Write(w http.ResponseWriter) {
	writeLocal(w, d.Status, d.Body, "")
}
