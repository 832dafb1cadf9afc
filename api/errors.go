package api

import (
	"errors"
	"fmt"
)

// FieldError is a problem with one field of a resource. Path is the YAML
// path from the document root, such as "spec.http[2].route[0].destination.host";
// the loader turns it into the line of that field.
type FieldError struct {
	Path string
	Err  error
}

// Error formats the error as "path: what".
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Errorf returns a *FieldError for path with a formatted message.
func Errorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// Severity says whether a problem stops a load or is only reported.
type Severity int

const (
	// SeverityError problems reject the whole configuration.
	SeverityError Severity = iota
	// SeverityWarning problems are logged and the configuration is applied.
	SeverityWarning
)

// Warning marks err as a warning: the configuration is still applied.
func Warning(err error) error { return &warning{err} }

type warning struct{ error }

func (w *warning) Unwrap() error { return w.error }

// IsWarning reports whether err was marked with Warning.
func IsWarning(err error) bool {
	var w *warning
	return errors.As(err, &w)
}
