package router

import (
	"errors"
	"strings"
)

// PathMode is Istio's meshConfig pathNormalization.
type PathMode uint8

// The normalizations of meshConfig pathNormalization.normalization.
const (
	// PathBase resolves "." and ".." segments (RFC 3986), decodes
	// percent-encoded unreserved characters and turns "\" into "/". It is
	// Istio's default.
	PathBase PathMode = iota
	// PathNone leaves the path as received.
	PathNone
	// PathMergeSlashes is PathBase plus merging repeated slashes.
	PathMergeSlashes
	// PathDecodeAndMergeSlashes also decodes %2F and %5C into "/" first.
	PathDecodeAndMergeSlashes
)

// ParsePathMode parses the meshConfig spelling ("BASE", "NONE",
// "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"; "" and "DEFAULT" mean BASE).
func ParsePathMode(s string) (PathMode, bool) {
	switch s {
	case "", "DEFAULT", "BASE":
		return PathBase, true
	case "NONE":
		return PathNone, true
	case "MERGE_SLASHES":
		return PathMergeSlashes, true
	case "DECODE_AND_MERGE_SLASHES":
		return PathDecodeAndMergeSlashes, true
	}
	return 0, false
}

// String returns the meshConfig spelling of m.
func (m PathMode) String() string {
	return [...]string{"BASE", "NONE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"}[m]
}

// Errors NormalizePath returns; each means the request gets 400.
var (
	ErrPathControl      = errors.New("path contains a NUL, a control character or a space")
	ErrPathEncoding     = errors.New("path has a malformed percent-encoding")
	ErrPathEscapedSlash = errors.New("path contains an encoded slash or backslash (%2F or %5C), or a backslash the mode does not map")
	ErrPathNotAbsolute  = errors.New("path does not start with '/'")
	// ErrPathFragment: a request target never carries a fragment; Envoy
	// rejects one (CVE-2021-32779), as an upstream that strips it would
	// serve another path than the one policy saw ("/admin#x").
	ErrPathFragment = errors.New("path contains a fragment ('#')")
)

// NormalizePath normalizes the escaped path of a request (without its
// query) once, so that routing, policy and the upstream all see the same
// path. Percent-encodings stay encoded (with upper-case hex) unless they
// encode an unreserved character. Under every mode but
// PathDecodeAndMergeSlashes an encoded slash or backslash is refused: an
// upstream that decodes it would see a different path than the one policy
// was checked against. It allocates only when the path changes.
func NormalizePath(p string, mode PathMode) (string, error) {
	if p == "" || p[0] != '/' {
		return "", ErrPathNotAbsolute
	}
	clean := true
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c <= ' ' || c == 0x7f: // a space only arrives through HTTP/2
			return "", ErrPathControl
		case c == '#':
			return "", ErrPathFragment
		case c == '%' || c == '\\':
			clean = false
		case c == '/' && i+1 < len(p) && (p[i+1] == '.' || (p[i+1] == '/' && mode >= PathMergeSlashes)):
			clean = false
		}
	}
	if clean && mode != PathNone {
		return p, nil
	}
	if mode == PathNone {
		if err := checkEncoding(p); err != nil {
			return "", err
		}
		return p, nil
	}
	dec, err := decodeUnreserved(p, mode == PathDecodeAndMergeSlashes)
	if err != nil {
		return "", err
	}
	if mode >= PathMergeSlashes {
		dec = mergeSlashes(dec)
	}
	dec = removeDotSegments(dec)
	if mode >= PathMergeSlashes {
		dec = mergeSlashes(dec)
	}
	return dec, nil
}

// checkEncoding validates the path PathNone forwards as received: it
// refuses malformed percent-encodings, an encoded NUL, and a slash or
// backslash in any form that an upstream could take for a separator the
// policy never saw: %2F, %5C (either case) and a raw "\".
func checkEncoding(p string) error {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			return ErrPathEscapedSlash
		case '%':
		default:
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return ErrPathEncoding
		}
		switch unhex(p[i+1])<<4 | unhex(p[i+2]) {
		case 0:
			return ErrPathControl
		case '/', '\\':
			return ErrPathEscapedSlash
		}
	}
	return nil
}

func decodeUnreserved(p string, slashes bool) (string, error) {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			b.WriteByte('/')
			continue
		case c != '%':
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", ErrPathEncoding
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		i += 2
		switch {
		case v == 0:
			return "", ErrPathControl
		case v == '/' || v == '\\':
			if !slashes {
				return "", ErrPathEscapedSlash
			}
			b.WriteByte('/')
		case isUnreserved(v):
			b.WriteByte(v)
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[v>>4])
			b.WriteByte(upperHex[v&15])
		}
	}
	return b.String(), nil
}

const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func mergeSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// removeDotSegments applies RFC 3986 section 5.2.4 to an absolute path.
func removeDotSegments(p string) string {
	if !strings.Contains(p, "/.") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}
