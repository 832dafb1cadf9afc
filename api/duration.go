package api

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a protobuf Duration as Istio YAML writes it: "5s", "0.5s",
// "1m", "1h", "250ms". Negative and malformed values are rejected when the
// YAML is decoded; whether zero or sub-millisecond values are allowed is
// decided by the field that uses it (see MinDuration).
type Duration time.Duration

// MinDuration is the smallest duration Istio accepts for timeouts, delays
// and intervals (agent.ValidateDuration).
const MinDuration = time.Millisecond

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "duration must be a string such as \"5s\"")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return typeError(n, err.Error())
	}
	*d = Duration(v)
	return nil
}

// typeError reports a bad value the way yaml.v3 reports its own type
// errors, so that decoding goes on and every problem of a document is
// reported at once.
func typeError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}

// ParseDuration parses s as Go and protobuf durations are written
// ("1.5s", "100ms", "2m", "1h30m"). It rejects negative values.
func ParseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a number with a unit such as \"5s\" or \"250ms\"", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return v, nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes d in the same form it is read.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
