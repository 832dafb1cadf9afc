package config

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// fileOp is what happened to a watched path.
type fileOp uint8

const (
	// opReplace: created, removed, renamed or its attributes changed. A
	// rename into place and a ConfigMap "..data" swap are complete at once.
	opReplace fileOp = iota
	// opWrite: written in place; its writer may not be done.
	opWrite
	// opClosed: a writer closed it after writing (Linux only).
	opClosed
	// opOverflow: events were lost; reload to be sure.
	opOverflow
	// opCreated: a regular file was created in place; its writer may not
	// be done (Linux only).
	opCreated
)

// fileEvent is one change under a watched directory.
type fileEvent struct {
	path string
	op   fileOp
	dir  bool // the path is a directory, when the backend knows
}

// fileWatcher watches directories (not files: editors that rename into
// place and Kubernetes' ConfigMap "..data" swaps never touch the inode of
// the file being replaced).
type fileWatcher interface {
	add(dir string) error
	events() <-chan fileEvent
	errors() <-chan error
	// reportsClose tells whether opClosed follows every opWrite.
	reportsClose() bool
	close() error
}

// Watcher reloads the configuration whenever a configuration file, a
// certificate file it names, or a ConfigMap symlink under the config
// paths changes, and only once the change is complete: a file written in
// place is reloaded after its writer closed it (on Linux; elsewhere once
// its size and modification time stayed the same) and nothing else moved
// for the settle window. A slow scp or a script writing in pieces is never
// loaded half-written.
type Watcher struct {
	// Paths are the configuration files and directories.
	Paths []string
	// Settle is how long a change must stay quiet before Reload.
	Settle time.Duration
	// CertFiles returns the certificate files the serving configuration
	// names.
	CertFiles func() []string
	// Reload loads the configuration again.
	Reload func()
	// Log receives the watcher's warnings and debug lines.
	Log *slog.Logger
}

// Start sets the watches up before returning, so that no change made
// after the caller reports serving is missed, and returns the loop, which
// runs until ctx ends.
func (wt *Watcher) Start(ctx context.Context) (loop func()) {
	w, err := newFileWatcher()
	if err != nil {
		wt.Log.Error("cannot watch the configuration; reload with SIGHUP", "error", err)
		return func() {}
	}
	ws := wt.addWatches(w)
	return func() {
		defer w.close()
		wt.Reload() // catch changes made between the first load and the watches
		wt.watch(ctx, w, ws)
	}
}

func (wt *Watcher) watch(ctx context.Context, w fileWatcher, ws *watchSet) {
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	files := newPending() // what writers may still be writing (Linux)
	var sizes map[string]fileStamp
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.events():
			if !ok {
				return
			}
			if !ws.relevant(ev) {
				continue // a log file or editor swap file beside the config: no work, no log line
			}
			wt.Log.Debug("config change", "path", ev.path, "op", ev.op.String())
			if w.reportsClose() && !files.note(ev, time.Now()) {
				continue // its close schedules the reload
			}
			sizes = nil
			settle.Reset(wt.Settle)
		case err, ok := <-w.errors():
			if !ok {
				return
			}
			wt.Log.Warn("config watcher error", "error", err)
		case <-settle.C:
			if busy, recheck := files.busy(time.Now()); busy {
				if recheck {
					settle.Reset(wt.Settle)
				}
				continue // a writer still has a file open
			}
			if !w.reportsClose() && !ws.stable(&sizes) {
				settle.Reset(wt.Settle) // a file may still be growing
				continue
			}
			// Watch directories that appeared (a ConfigMap's new
			// "..2026_..." one) before reading, so that files written there
			// while the reload runs are not missed, and again after.
			wt.addWatches(w)
			wt.Reload()
			ws = wt.addWatches(w)
		}
	}
}

func (op fileOp) String() string {
	return [...]string{"replace", "write", "close", "overflow", "create"}[op]
}

// watchSet is what the watcher reacts to: files under the configuration
// directories, the configuration files given by path, the certificate
// files the configuration names, and ConfigMap internals ("..data").
type watchSet struct {
	dirs  []string        // configuration directories, read recursively
	files map[string]bool // configuration files given by path, certificate files
}

// addWatches watches every directory the configuration is read from: each
// config directory and its subdirectories (ConfigMap "..2026_..." ones
// included), the directory of each config file, and the directories of
// the certificates it names. It returns what the events there must match.
func (wt *Watcher) addWatches(w fileWatcher) *watchSet {
	ws := &watchSet{files: map[string]bool{}}
	var dirs []string
	add := func(d string) { dirs = append(dirs, d) }
	// A file is watched where its name is and, when that is a symbolic
	// link (a mounted secret's tls.crt -> ..data/tls.crt), where it
	// resolves to: a write through the link is seen only there.
	file := func(f string) {
		f = filepath.Clean(f)
		ws.files[f] = true
		add(filepath.Dir(f))
		if r, err := filepath.EvalSymlinks(f); err == nil && r != f {
			ws.files[r] = true
			add(filepath.Dir(r))
		}
	}
	for _, p := range wt.Paths {
		p = filepath.Clean(p)
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			ws.dirs = append(ws.dirs, p)
			walkDirs(p, 0, add)
			continue
		}
		file(p)
	}
	for _, f := range wt.CertFiles() {
		file(f)
	}
	seen := map[string]bool{}
	for _, dir := range dirs {
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if err := w.add(dir); err != nil {
			wt.Log.Debug("cannot watch config directory", "dir", dir, "error", err)
		}
	}
	return ws
}

// relevant reports whether an event can change the configuration.
func (ws *watchSet) relevant(ev fileEvent) bool {
	if ev.op == opOverflow || ws.files[ev.path] {
		return true
	}
	base := filepath.Base(ev.path)
	if strings.HasPrefix(base, "..") {
		return true // a ConfigMap swap: ..data, ..data_tmp, ..2026_12_07_...
	}
	if strings.HasPrefix(base, ".") || !ws.underDir(ev.path) {
		return false
	}
	// A new or removed subdirectory may hold configuration; fsnotify does
	// not say what a path was, so a name without an extension counts.
	return IsYAMLName(base) || ev.dir || filepath.Ext(base) == ""
}

func (ws *watchSet) underDir(p string) bool {
	for _, d := range ws.dirs {
		if strings.HasPrefix(p, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// fileStamp is what tells whether a file is still being written where
// the watcher cannot see its writer close it.
type fileStamp struct {
	size int64
	mod  time.Time
}

// stable stats the configuration and certificate files and reports
// whether they are as *prev recorded at the previous call; it records
// them in *prev.
func (ws *watchSet) stable(prev *map[string]fileStamp) bool {
	now := map[string]fileStamp{}
	stamp := func(p string) {
		if fi, err := os.Stat(p); err == nil {
			now[p] = fileStamp{fi.Size(), fi.ModTime()}
		}
	}
	for p := range ws.files {
		stamp(p)
	}
	for _, d := range ws.dirs {
		found, _ := listYAML(d)
		for _, p := range found {
			stamp(p)
		}
	}
	same := *prev != nil && len(now) == len(*prev)
	for p, st := range now {
		same = same && (*prev)[p] == st
	}
	*prev = now
	return same
}

func walkDirs(dir string, depth int, add func(string)) {
	if depth > 16 {
		return
	}
	add(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		// Dot entries are skipped, but ConfigMap's timestamped directories
		// ("..2026_12_07_...") are watched: files written there before the
		// "..data" swap are the next configuration.
		if strings.HasPrefix(e.Name(), ".") && (!strings.HasPrefix(e.Name(), "..") || e.Name() == "..data") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			walkDirs(p, depth+1, add)
		}
	}
}
