// Package tls turns the TLS settings of Istio Gateway servers and
// DestinationRules into crypto/tls configurations for gatehouse.
//
// It does not know the YAML schema: the gateway decodes Gateway and
// DestinationRule resources and passes plain values (ServerSettings,
// ClientSettings). NewStore loads and validates every certificate, key, CA
// bundle and CRL once and returns an immutable *Store whose
// GetConfigForClient picks a server by SNI the way Envoy picks a filter
// chain: exact name, then the most specific wildcard, then the server that
// accepts any name. Nothing on the handshake path reads files or takes
// locks, so a gateway reloads certificates by building a new Store and
// swapping it atomically.
//
// Session resumption never crosses TLS policies: every server has its own
// session ticket keys, generated per Store, and servers that request client
// certificates do not issue tickets at all (CVE-2025-68121, CVE-2025-23419).
//
// PeekClientHello reads the SNI of a ClientHello for TLS passthrough
// without terminating TLS; ResolveCredential maps an Istio credentialName
// to files laid out like a mounted Kubernetes TLS secret; ClientConfig
// builds the upstream side from a DestinationRule.
//
// Importers alias this package as gwtls, because its name collides with
// crypto/tls.
package tls
