package gateway

import (
	"crypto/sha256"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// Snapshot is one compiled generation of configuration. It is immutable
// once published and safe for concurrent use; requests that started on it
// keep it alive until they finish.
type Snapshot struct {
	// Generation is what the request pipeline reads: the generation
	// number, listeners, clusters, security engine, access log and mesh
	// settings.
	proxy.Generation
	// Digest is over the names and contents of the files it was built from;
	// a reload whose files hash the same is skipped.
	Digest [sha256.Size]byte
	// Files are the configuration files read.
	Files []string
	// Loaded is when the snapshot was compiled.
	Loaded time.Time
	// compileTime is how long decoding and compiling took.
	compileTime time.Duration
	// Warnings are the problems that did not stop the load.
	Warnings []Problem

	// certFiles are the certificate files the configuration reads; they are
	// watched and part of Digest, so rotating a certificate reloads.
	certFiles []string
	// security names its security resources ("Kind ns/name", sorted), for
	// the audit of what a reload removed.
	security []string
	pools    map[*transport.Pool]bool // pools its clusters use
}
