package router

import (
	"errors"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in   string
		mode PathMode
		want string
		err  error
	}{
		{"/status/200", PathBase, "/status/200", nil},
		{"/public/../admin", PathBase, "/admin", nil},
		{"/./admin", PathBase, "/admin", nil},
		{"/public/%2e%2e/admin", PathBase, "/admin", nil},
		{"/public/.%2E/admin", PathBase, "/admin", nil},
		{"/admin/.", PathBase, "/admin/", nil},
		{"/public/..", PathBase, "/", nil},
		{"/..", PathBase, "/", nil},
		{"/public\\..\\admin", PathBase, "/admin", nil},
		{"/admin%5csecret", PathBase, "", ErrPathEscapedSlash},
		{"/admin%2Fsecret", PathBase, "", ErrPathEscapedSlash},
		{"/public%2F..%2Fadmin", PathDecodeAndMergeSlashes, "/admin", nil},
		{"/admin%252F", PathBase, "/admin%252F", nil},
		{"/a%00b", PathBase, "", ErrPathControl},
		{"/admin#x", PathBase, "", ErrPathFragment},
		{"/admin#x", PathNone, "", ErrPathFragment},
		{"/admin%23x", PathBase, "/admin%23x", nil},
		{"/a%00b", PathNone, "", ErrPathControl},
		{"/a\x00b", PathBase, "", ErrPathControl},
		{"/a%zz", PathBase, "", ErrPathEncoding},
		{"/a%7e%41%20b", PathBase, "/a~A%20b", nil},
		{"/a%3f", PathBase, "/a%3F", nil},
		{"//admin", PathBase, "//admin", nil},
		{"//admin", PathMergeSlashes, "/admin", nil},
		{"///admin/x", PathMergeSlashes, "/admin/x", nil},
		{"/public//../admin", PathBase, "/public/admin", nil},
		{"/public//../admin", PathMergeSlashes, "/admin", nil},
		{"/public/../admin", PathNone, "/public/../admin", nil},
		// security.md AZ-02, AZ-04, AZ-06 under NONE: nothing is decoded,
		// so an encoded (or raw) slash or backslash is refused, never
		// forwarded for an upstream to decode.
		{"/admin%2Fsecret", PathNone, "", ErrPathEscapedSlash},
		{"/admin%2fsecret", PathNone, "", ErrPathEscapedSlash},
		{"/admin%5Csecret", PathNone, "", ErrPathEscapedSlash},
		{"/admin%5csecret", PathNone, "", ErrPathEscapedSlash},
		{"/Admin%2fx", PathNone, "", ErrPathEscapedSlash},
		{"/public\\..\\admin", PathNone, "", ErrPathEscapedSlash},
		{"/admin%252F", PathNone, "/admin%252F", nil},
		{"/a%20b", PathNone, "/a%20b", nil},
		{"/.well-known/x", PathBase, "/.well-known/x", nil},
		{"admin", PathBase, "", ErrPathNotAbsolute},
	}
	for _, tc := range tests {
		got, err := NormalizePath(tc.in, tc.mode)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("NormalizePath(%q, %d) = %q, %v; want %q, %v", tc.in, tc.mode, got, err, tc.want, tc.err)
		}
	}
}

func TestNormalizePathNoAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := NormalizePath("/api/v1/users/42", PathMergeSlashes); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("NormalizePath of a clean path allocates %v times, want 0", allocs)
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2E/x", "//a", "/a\\b", "/%zz", "/a%00", "/.well-known", "/a/./b/../../c"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, p string, m uint8) {
		mode := PathMode(m % 4)
		out, err := NormalizePath(p, mode)
		if err != nil {
			return
		}
		if out == "" || out[0] != '/' {
			t.Fatalf("NormalizePath(%q) = %q: not absolute", p, out)
		}
		if mode == PathNone {
			return
		}
		again, err := NormalizePath(out, mode)
		if err != nil || again != out {
			t.Fatalf("NormalizePath is not idempotent: %q -> %q -> %q (%v)", p, out, again, err)
		}
		for _, seg := range []string{"/../", "/./"} {
			if containsSeg(out, seg) {
				t.Fatalf("NormalizePath(%q) = %q still has %q", p, out, seg)
			}
		}
	})
}

func containsSeg(s, seg string) bool {
	for i := 0; i+len(seg) <= len(s); i++ {
		if s[i:i+len(seg)] == seg {
			return true
		}
	}
	return false
}
