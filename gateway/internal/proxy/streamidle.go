package proxy

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// midBodyFailure is how a response body that broke off after the head was
// relayed is logged: Envoy's flags and details for a reset or a protocol
// error after the response started, or the timeout that ended it.
func midBodyFailure(ctx context.Context, err error) (flags, details string) {
	switch {
	case errors.Is(context.Cause(ctx), errRouteTimeout):
		return "UT", "response_timeout"
	case errors.Is(err, transport.ErrStreamIdle), errors.Is(context.Cause(ctx), transport.ErrStreamIdle), errors.Is(err, os.ErrDeadlineExceeded):
		return "UT", "stream_idle_timeout"
	case isBodyFramingError(err):
		return "UPE", "upstream_reset_after_response_started{protocol_error}"
	}
	return "UR", "upstream_reset_after_response_started{connection_termination}"
}

// isBodyFramingError reports a response body that does not follow its own
// framing (a bad chunk), as opposed to one cut short.
func isBodyFramingError(err error) bool {
	var pe *transport.ProtocolError
	if errors.As(err, &pe) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "chunk") || strings.Contains(s, "PROTOCOL_ERROR")
}
