// Package config reads gatehouse's configuration from disk: it lists and
// reads the YAML files of the configured paths (capped in size and
// nesting), splits them into documents, reads each document's envelope
// (apiVersion, kind, metadata), checks its fields against the kind's
// schema and decodes it, attributing every problem to a file and a line
// ("file:line: Kind ns/name: what"). A Cache keeps decoded files from one
// load to the next by content hash; a Watcher reloads when a file, a
// certificate or a ConfigMap symlink changes, once the change is complete.
//
// It knows no kinds itself: the caller passes a Kinds table mapping
// apiVersion and kind to a typed decoder, and compiles what comes back.
package config
