package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Which events can change the configuration, decided before any work.
func TestWatchSetRelevant(t *testing.T) {
	ws := &watchSet{dirs: []string{"/etc/gh"}, files: map[string]bool{"/etc/certs/tls.crt": true, "/srv/gw.conf": true}}
	for _, tc := range []struct {
		ev   fileEvent
		want bool
	}{
		{fileEvent{path: "/etc/gh/vs.yaml", op: opWrite}, true},
		{fileEvent{path: "/etc/gh/sub/vs.yml", op: opClosed}, true},
		{fileEvent{path: "/etc/gh/..data", op: opReplace}, true},
		{fileEvent{path: "/etc/gh/..2026_12_07_00_00_01.1", op: opReplace, dir: true}, true},
		{fileEvent{path: "/etc/gh/newdir", op: opReplace, dir: true}, true},
		{fileEvent{path: "/etc/gh/newdir", op: opReplace}, true}, // fsnotify cannot tell
		{fileEvent{path: "/etc/certs/tls.crt", op: opClosed}, true},
		{fileEvent{path: "/srv/gw.conf", op: opWrite}, true},
		{fileEvent{op: opOverflow}, true},
		{fileEvent{path: "/etc/gh/gatehouse.log", op: opWrite}, false},
		{fileEvent{path: "/etc/gh/.vs.yaml.swp", op: opWrite}, false},
		{fileEvent{path: "/etc/gh/vs.yaml~", op: opReplace}, false},
		{fileEvent{path: "/etc/certs/other.pem", op: opWrite}, false},
		{fileEvent{path: "/srv/access.log", op: opWrite}, false},
		{fileEvent{path: "/etc/ghost/vs.yaml", op: opWrite}, false},
	} {
		if got := ws.relevant(tc.ev); got != tc.want {
			t.Errorf("relevant(%+v) = %v, want %v", tc.ev, got, tc.want)
		}
	}
}

// Where the watcher cannot see a writer close a file, a change counts as
// finished once sizes and times stayed the same between two looks.
func TestWatchSetStable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vs.yaml")
	os.WriteFile(p, []byte("a"), 0o644)
	ws := &watchSet{dirs: []string{dir}, files: map[string]bool{}}
	var prev map[string]fileStamp
	if ws.stable(&prev) {
		t.Fatal("the first look is stable: there is nothing to compare with")
	}
	if !ws.stable(&prev) {
		t.Fatal("nothing changed, but the second look is not stable")
	}
	os.WriteFile(p, []byte("ab"), 0o644)
	if ws.stable(&prev) {
		t.Fatal("the file grew, but the look is stable")
	}
	if !ws.stable(&prev) {
		t.Fatal("not stable after the file stopped changing")
	}
}

// A file created in place is being written until its first write's event
// and then its close, however long that first write takes; one never
// written (a hard link) counts as complete after createdWait.
func TestPendingCreatedFiles(t *testing.T) {
	t0 := time.Now()
	p := newPending()
	ev := func(op fileOp) fileEvent { return fileEvent{path: "/etc/gh/vs.yaml", op: op} }
	steps := []struct {
		op       fileOp
		at       time.Duration
		schedule bool // note's answer
		busy     bool // then, at the same time
	}{
		{opCreated, 0, true, true},
		{opWrite, 3 * time.Second, false, true},   // a 50 MiB write returned
		{opWrite, 10 * time.Second, false, true},  // written, never closed yet
		{opClosed, 11 * time.Second, true, false}, // the writer is done
		{opCreated, 12 * time.Second, true, true}, // a hard link
	}
	for _, s := range steps {
		if got := p.note(ev(s.op), t0.Add(s.at)); got != s.schedule {
			t.Errorf("%v at %v: note = %v, want %v", s.op, s.at, got, s.schedule)
		}
		if busy, _ := p.busy(t0.Add(s.at)); busy != s.busy {
			t.Errorf("%v at %v: busy = %v, want %v", s.op, s.at, busy, s.busy)
		}
	}
	if busy, recheck := p.busy(t0.Add(12*time.Second + createdWait - time.Millisecond)); !busy || !recheck {
		t.Errorf("a created file just before createdWait: busy %v recheck %v, want both", busy, recheck)
	}
	if busy, recheck := p.busy(t0.Add(12*time.Second + createdWait)); busy || recheck {
		t.Errorf("a created file after createdWait: busy %v recheck %v, want neither", busy, recheck)
	}
}
