// Package listener holds the schema of the networking.istio.io Gateway
// kind: its servers, ports and TLS settings, as decoded from YAML. The
// gateway package compiles them into listeners.
package listener
