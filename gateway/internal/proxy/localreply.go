package proxy

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
)

// Local reply bodies, as an Istio gateway's Envoy words them (istio-api.md
// section 11).
const (
	BodyNoHealthy = "no healthy upstream"
	BodyConnect   = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	BodyReset     = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
	BodyRefused   = "upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset"
	BodyProtocol  = "upstream connect error or disconnect/reset before headers. reset reason: protocol error"
	BodyOverflow  = "upstream connect error or disconnect/reset before headers. reset reason: overflow"
	BodyTimeout   = "upstream request timeout"
	BodyFault     = "fault filter abort"
)

// bodyInvalidRequest answers a request that would have reached the
// upstream with a control byte in its request line or a header field.
const bodyInvalidRequest = "invalid upstream request"

var (
	textPlain       = []string{"text/plain"}
	applicationGRPC = []string{"application/grpc"}
)

// isGRPC reports whether r is a gRPC request, whose errors must be gRPC
// statuses rather than HTTP ones.
func isGRPC(r *downstream.Request) bool {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/grpc") {
		return false
	}
	rest := ct[len("application/grpc"):]
	return rest == "" || rest[0] == '+' || rest[0] == ';'
}

// grpcStatusFor maps an HTTP status to the gRPC status Envoy sends for it
// (Grpc::Utility::httpToGrpcStatus).
func grpcStatusFor(status int) int {
	switch status {
	case 400:
		return 13 // INTERNAL
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404:
		return 12 // UNIMPLEMENTED
	case 429, 502, 503, 504:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// localReply answers a request from the gateway itself. A gRPC request gets
// a trailers-only gRPC reply carrying the mapped status and the body as the
// message, as Envoy's sendLocalReply does.
func localReply(w downstream.ResponseWriter, r *downstream.Request, status int, body string) {
	if r != nil && isGRPC(r) {
		grpcReply(w, grpcStatusFor(status), body)
		return
	}
	h := w.Header()
	if body != "" {
		h["Content-Type"] = textPlain
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// grpcReply sends a trailers-only gRPC response.
func grpcReply(w downstream.ResponseWriter, code int, msg string) {
	h := w.Header()
	h["Content-Type"] = applicationGRPC
	h.Set("Grpc-Status", strconv.Itoa(code))
	if msg != "" {
		h.Set("Grpc-Message", grpcEscape(msg))
	}
	h["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusOK)
}

// grpcEscape percent-encodes a grpc-message value as the gRPC spec asks.
func grpcEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)|0x100, 16)[1:]))
	}
	return b.String()
}
