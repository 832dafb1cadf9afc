package tls

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ResolveCredential finds the files of an Istio credentialName in dir,
// which is laid out like mounted Kubernetes secrets. It tries, in order:
//
//	dir/NAME/tls.crt + dir/NAME/tls.key   (kubernetes.io/tls secret; CA in ca.crt)
//	dir/NAME/cert + dir/NAME/key          (Istio generic secret; CA in cacert)
//	dir/NAME.crt + dir/NAME.key           (CA in NAME-cacert.crt or NAME.ca.crt)
//
// When the pair carries no CA, the CA may come from a separate
// "NAME-cacert" credential: dir/NAME-cacert/ca.crt or dir/NAME-cacert/cacert.
// ca is "" when there is none. The error lists every place looked at.
func ResolveCredential(dir, name string) (cert, key, ca string, err error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return "", "", "", fmt.Errorf("invalid credential name %q", name)
	}
	base := filepath.Join(dir, name)
	var looked []string
	pairs := [][3]string{
		{filepath.Join(base, "tls.crt"), filepath.Join(base, "tls.key"), filepath.Join(base, "ca.crt")},
		{filepath.Join(base, "cert"), filepath.Join(base, "key"), filepath.Join(base, "cacert")},
		{base + ".crt", base + ".key", ""},
	}
	for _, p := range pairs {
		c, k, err := findPair(p[0], p[1])
		if err != nil {
			return "", "", "", fmt.Errorf("credential %q: %w", name, err)
		}
		if c != "" {
			ca = firstFile(p[2], base+"-cacert.crt", base+".ca.crt",
				filepath.Join(base+"-cacert", "ca.crt"), filepath.Join(base+"-cacert", "cacert"))
			return c, k, ca, nil
		}
		looked = append(looked, p[0]+" + "+p[1])
	}
	return "", "", "", fmt.Errorf("credential %q not found: looked for %s", name, strings.Join(looked, ", "))
}

// findPair returns both files if both exist, nothing if neither does, and
// an error naming the missing one if only one exists.
func findPair(cert, key string) (string, string, error) {
	c, k := isFile(cert), isFile(key)
	switch {
	case c && k:
		return cert, key, nil
	case c:
		return "", "", fmt.Errorf("found certificate %s but no private key %s", cert, key)
	case k:
		return "", "", fmt.Errorf("found private key %s but no certificate %s", key, cert)
	}
	return "", "", nil
}

func firstFile(paths ...string) string {
	for _, p := range paths {
		if p != "" && isFile(p) {
			return p
		}
	}
	return ""
}

// isFile reports whether p is a regular file, following symlinks as the
// ..data links of a mounted secret require. Errors other than "does not
// exist" count as present, so that loading the file reports them.
func isFile(p string) bool {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	return err != nil || fi.Mode().IsRegular()
}
