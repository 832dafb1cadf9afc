package accesslog

import (
	"net/http"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
)

// Entry is everything one access-log line can say about a request
// (or a TCP connection). The proxy fills it; zero values mean "absent"
// (printed "-" in TEXT, null in JSON) unless a field says otherwise.
type Entry struct {
	Start  time.Time // %START_TIME% (printed in UTC)
	Method string    // %REQ(:METHOD)%
	// Path: x-envoy-original-path if set, else the path with query, as
	// received. Serves %REQ(:PATH)% and %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%.
	Path     string
	Protocol string // "HTTP/1.1", "HTTP/2", or "" for TCP
	Code     int    // 0 when no response was sent (client went away, TCP); printed as 0, never "-" (Envoy)
	// Flags: Envoy response flags, comma-joined ("NR", "UF,URX", "DC", ...);
	// "" prints "-", as Envoy does when no flag is set.
	Flags string
	// Details is %RESPONSE_CODE_DETAILS% (no spaces, as Envoy): "via_upstream",
	// "route_not_found", "response_timeout", "downstream_remote_disconnect";
	// Istio RBAC: "rbac_access_denied_matched_policy[ns[NS]-policy[NAME]-rule[I]]"
	// for a DENY match, "rbac_access_denied_matched_policy[none]" when no ALLOW matched.
	Details            string
	TerminationDetails string        // %CONNECTION_TERMINATION_DETAILS%
	TransportFailure   string        // %UPSTREAM_TRANSPORT_FAILURE_REASON%
	BytesReceived      int64         // request body bytes (TCP: from downstream); always printed
	BytesSent          int64         // response body bytes (TCP: to downstream); always printed
	Duration           time.Duration // %DURATION%, printed in whole milliseconds, always printed
	// UpstreamServiceTime serves %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% in
	// whole milliseconds; <0 means absent (then RespHeader is consulted).
	UpstreamServiceTime time.Duration
	// Request headers with a fixed field; when a field is empty the same
	// header in ReqHeader (if any) is used. Envoy logs the request headers
	// as forwarded upstream (XFF with the peer appended, generated request id).
	XFF, UserAgent, RequestID, Authority         string
	UpstreamHost, UpstreamCluster, UpstreamLocal string // "ip:port", cluster name, "ip:port"
	DownstreamLocal, DownstreamRemote            string // "ip:port" ("[v6]:port")
	SNI, RouteName                               string // %REQUESTED_SERVER_NAME%, %ROUTE_NAME%
	Policy                                       string // the AuthorizationPolicy ("ns/name") that denied, if any: %AUTHZ_POLICY%, JSON key authorization_policy
	// GRPCStatus is the grpc-status value ("0".."16"); %GRPC_STATUS% prints
	// Envoy's names for it ("OK", "NotFound", ...). Non-numeric values pass through.
	GRPCStatus string
	// gatehouse additions for Envoy operators; 0 means absent (a measured
	// duration is never exactly 0ns).
	RequestDuration  time.Duration // %REQUEST_DURATION%: start until the last request byte was received
	ResponseDuration time.Duration // %RESPONSE_DURATION%: start until the first upstream response byte
	// ReqHeader and RespHeader serve %REQ(x)% / %RESP(x)% beyond the fixed
	// fields (first value of the header); may be nil. Read synchronously by
	// Log, never retained.
	ReqHeader, RespHeader http.Header
	// OriginalPath is the path as received when a rewrite changed it (the
	// X-Envoy-Original-Path the gateway set; a client's copy never counts).
	// SetRequest prefers it for Path.
	OriginalPath string
	// DestinationService is the host of the service the request was sent
	// to ("" when none), for the metrics' destination_service; not logged.
	DestinationService string
}

// Note adds Envoy response flags (comma-joined after those already set)
// and sets the response code details, unless details is empty. It is
// nil-safe: a request or connection that is not logged has no entry.
func (e *Entry) Note(flags, details string) {
	if e == nil {
		return
	}
	switch {
	case flags == "":
	case e.Flags == "":
		e.Flags = flags
	default:
		e.Flags += "," + flags
	}
	if details != "" {
		e.Details = details
	}
}

// SetUpstream records the cluster and the endpoint ("ip:port") a request
// or connection was sent to. It is nil-safe.
func (e *Entry) SetUpstream(cluster, host string) {
	if e != nil {
		e.UpstreamCluster, e.UpstreamHost = cluster, host
	}
}

// SetRequest fills the fields an HTTP request gives as received: method,
// path (OriginalPath when set), protocol, authority, the downstream remote
// address, the TLS server name and the request headers. r's header is
// referenced, not copied.
func (e *Entry) SetRequest(r *downstream.Request) {
	e.Method = r.Method
	e.Path = r.RequestURI
	if e.OriginalPath != "" {
		e.Path = e.OriginalPath
	}
	e.Protocol = protocolName(r)
	e.Authority = r.Host
	e.DownstreamRemote = r.RemoteAddr
	if r.TLS != nil {
		e.SNI = r.TLS.ServerName
	}
	e.ReqHeader = r.Header
	e.XFF = r.Header.Get("X-Forwarded-For")
	e.UserAgent = r.Header.Get("User-Agent")
	e.RequestID = r.Header.Get("X-Request-Id")
}

// protocolName is Envoy's %PROTOCOL%.
func protocolName(r *downstream.Request) string {
	switch {
	case r.ProtoMajor == 2:
		return "HTTP/2"
	case r.ProtoMinor == 0:
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}
