package gateway

import "github.com/gatehouse-proxy/gatehouse/gateway/internal/config"

// Problem is one error or warning about the configuration, attributed to
// a file, a line and a resource.
type Problem = config.Problem

// ConfigError is the error of a load with one or more errors: it carries
// every problem found, warnings included.
type ConfigError = config.ConfigError
