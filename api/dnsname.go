package api

import (
	"fmt"
	"strings"
)

// ValidDNSName checks that n (a trailing dot allowed) is made of DNS
// labels of letters, digits, '-' and '_', none empty or over 63 bytes.
func ValidDNSName(n string) error {
	for _, label := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host %q: invalid DNS label %q", n, label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20
			if !('a' <= c && c <= 'z' || '0' <= label[i] && label[i] <= '9' || label[i] == '-' || label[i] == '_') {
				return fmt.Errorf("host %q: invalid character %q", n, label[i])
			}
		}
	}
	return nil
}
