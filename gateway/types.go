package gateway

import (
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// Problem is one error or warning about the configuration, attributed to
// a file, a line and a resource.
type Problem = config.Problem

// ConfigError is the error of a load with one or more errors: it carries
// every problem found, warnings included.
type ConfigError = config.ConfigError

// ExplainRequest describes a request for Explain: what the client sends
// and how it connects.
type ExplainRequest = proxy.ExplainRequest

// Explanation is Explain's account of one request.
type Explanation = proxy.Explanation
