package gateway

import (
	"net/http"
	"time"
)

// accessEntry is everything one access-log line can say about a request
// (or a TCP connection). The proxy fills it; zero values mean "absent"
// (printed "-" in TEXT, null in JSON) unless a field says otherwise.
type accessEntry struct {
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
	// originalPath is the path as received when a rewrite changed it (the
	// X-Envoy-Original-Path the gateway set; a client's copy never counts).
	originalPath string
	// cluster is where the request was sent (nil: nowhere), for the
	// metrics' destination_service; not logged.
	cluster *cluster
}
