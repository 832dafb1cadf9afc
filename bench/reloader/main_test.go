package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestChanger checks every way of changing the file leaves the new content
// readable under its name and nothing else gatehouse would read (it skips
// names starting with a dot).
func TestChanger(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vs-049.yaml")
	if err := os.WriteFile(p, []byte("v0"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &changer{dir: dir, name: "vs-049.yaml"}
	for i, m := range []string{"rename", "truncate", "symlink", "rename", "symlink", "symlink", "truncate", "rename"} {
		want := strings.Repeat("x", i+1) // lengths differ, so a short write shows
		if err := c.change(m, want); err != nil {
			t.Fatalf("change %d (%s): %v", i, m, err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Fatalf("after change %d (%s): %q, %v; want %q", i, m, got, err, want)
		}
		entries, _ := os.ReadDir(dir)
		var visible []string
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				visible = append(visible, e.Name())
			}
		}
		if len(visible) != 1 {
			t.Fatalf("after change %d (%s): %v, want only vs-049.yaml", i, m, visible)
		}
	}
	// At most the current versioned directory is left besides ..data.
	entries, _ := os.ReadDir(dir)
	var vers int
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..v") {
			vers++
		}
	}
	if vers != 1 {
		t.Errorf("%d versioned directories left, want 1", vers)
	}
}

// TestTail checks the reload outcomes are read from gatehouse's log lines.
func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gatehouse.log")
	if err := os.WriteFile(p, []byte("time=1 level=INFO msg=\"configuration reloaded\" generation=1 took=1ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tl, err := newTail(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("time=2 level=INFO msg=\"SIGHUP: reloading the configuration\"\ntime=3 level=INFO msg=\"configuration rel")
	if ev, ok := tl.wait(20 * time.Millisecond); ok {
		t.Fatalf("a reload before the line is complete: %+v", ev)
	}
	f.WriteString("oaded\" generation=2 listeners=1 clusters=1 took=1.5s\n")
	ev, ok := tl.wait(time.Second)
	if !ok || ev.rejected || ev.took != 1500*time.Millisecond {
		t.Fatalf("got %+v, %v; want a reload that took 1.5s", ev, ok)
	}
	f.WriteString("time=4 level=ERROR msg=\"reload rejected; the previous configuration keeps serving\" generation=2\n")
	if ev, ok := tl.wait(time.Second); !ok || !ev.rejected {
		t.Fatalf("got %+v, %v; want a rejection", ev, ok)
	}
}
