// Package api holds the few schema building blocks that more than one
// configuration package needs: the envelope metadata of a resource, the
// protobuf-style Duration scalar, and FieldError, the error that carries the
// YAML field path of a problem so the loader can point at file:line.
//
// It is a leaf: it imports only the standard library and gopkg.in/yaml.v3,
// and router, authz, tls and gateway may all import it.
package api
