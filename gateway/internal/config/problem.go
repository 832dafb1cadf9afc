package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// Problem is one thing wrong with a configuration, located in its file.
type Problem struct {
	// File and Line locate the problem; Line is 0 when unknown.
	File string
	Line int
	// Kind, Namespace and Name identify the resource, when there is one.
	Kind, Namespace, Name string
	// Err says what is wrong, starting with the field path when known.
	Err error
	// Warning problems are reported but do not stop a load.
	Warning bool
}

// String formats the problem as "file:line: Kind namespace/name: what".
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Kind != "" {
		b.WriteString(p.Kind + " " + p.Namespace + "/" + p.Name + ": ")
	}
	if p.Err != nil {
		b.WriteString(p.Err.Error())
	}
	return b.String()
}

// ConfigError is a rejected configuration: every problem found, errors and
// warnings alike.
type ConfigError struct {
	Problems []Problem
}

// Error lists the problems that are errors, one per line.
func (e *ConfigError) Error() string {
	var lines []string
	for _, p := range e.Problems {
		if !p.Warning {
			lines = append(lines, p.String())
		}
	}
	if len(lines) == 0 {
		return "invalid configuration"
	}
	return strings.Join(lines, "\n")
}

// Problems collects the problems of one load.
type Problems struct {
	List []Problem
}

func (ps *Problems) Add(p Problem) { ps.List = append(ps.List, p) }

// ErrorCount returns the number of problems that are not warnings.
func (ps *Problems) ErrorCount() int {
	n := 0
	for _, p := range ps.List {
		if !p.Warning {
			n++
		}
	}
	return n
}

// ResourceErrs records the errors a leaf package returned for resource r,
// turning each field path into the line of that field.
func (ps *Problems) ResourceErrs(r *Resource, errs []error) {
	for _, err := range errs {
		ps.Add(r.Problem(err, api.IsWarning(err)))
	}
}

// Errf records an error about resource r at field path.
func (ps *Problems) Errf(r *Resource, path, format string, args ...any) {
	ps.Add(r.Problem(api.Errorf(path, format, args...), false))
}

// Warnf records a warning about resource r at field path.
func (ps *Problems) Warnf(r *Resource, path, format string, args ...any) {
	ps.Add(r.Problem(api.Errorf(path, format, args...), true))
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlProblems turns a yaml.v3 error into problems with their lines.
func yamlProblems(file string, err error, lines []string) []Problem {
	if len(lines) == 0 {
		lines = []string{err.Error()}
	}
	var out []Problem
	for _, msg := range lines {
		p := Problem{File: file, Err: errors.New(strings.TrimPrefix(msg, "yaml: "))}
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Err = errors.New(m[2])
		}
		out = append(out, p)
	}
	return out
}

var unknownFieldRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// FriendlyYAML rewrites yaml.v3's messages into the words users know.
func FriendlyYAML(msg string) string {
	if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown field %q", m[1])
	}
	if m := unmarshalRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is not %s", m[2], kindWords(m[1], m[3]))
	}
	return msg
}

var unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\w+)$")

// kindWords names what a Go type expects, for a value of YAML kind tag.
func kindWords(tag, goType string) string {
	switch {
	case strings.HasPrefix(goType, "uint"):
		return "a whole number, 0 or more"
	case strings.HasPrefix(goType, "int"):
		return "a whole number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	}
	return "a " + goType + " (got a YAML " + tag + ")"
}
