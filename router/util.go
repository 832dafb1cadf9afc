package router

import (
	"cmp"
	"slices"
	"strings"
)

func cutNS(s string) (ns, name string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

func lower(s string) string { return strings.ToLower(s) }

// SortVS orders VirtualServices as Istio merges them: by creation time,
// then name, then namespace. It returns a sorted copy.
func SortVS(vss []*VS) []*VS {
	out := slices.Clone(vss)
	slices.SortStableFunc(out, func(a, b *VS) int {
		if c := a.Meta.CreationTimestamp.Compare(b.Meta.CreationTimestamp); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Meta.Name, b.Meta.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.Meta.Namespace, b.Meta.Namespace)
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
