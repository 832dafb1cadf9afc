package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// startWatch reloads the configuration whenever a file under the config paths
// changes. It watches directories, not files, because editors that rename
// into place and Kubernetes' ConfigMap "..data" symlink swaps never touch
// the inode of the file being replaced. Bursts of events are debounced
// into one reload, so a file is not read half-written.
//
// startWatch sets the watches up before returning, so that no change made
// after Run reports serving is missed; the loop runs until ctx ends.
func (s *Server) startWatch(ctx context.Context) (loop func()) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Error("cannot watch the configuration; reload with SIGHUP", "error", err)
		return func() {}
	}
	s.addWatches(w)
	return func() {
		defer w.Close()
		s.Reload() // catch changes made between the first load and the watches
		s.watch(ctx, w)
	}
}

func (s *Server) watch(ctx context.Context, w *fsnotify.Watcher) {
	fire := make(chan struct{}, 1)
	debounce := time.AfterFunc(time.Hour, func() {
		select {
		case fire <- struct{}{}:
		default:
		}
	})
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			s.log.Debug("config change", "event", ev.String())
			debounce.Reset(s.opts.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			s.log.Warn("config watcher error", "error", err)
		case <-fire:
			s.Reload()
			s.addWatches(w) // directories may have appeared
		}
	}
}

// addWatches watches every directory the configuration is read from: each
// config directory and its subdirectories, the directory of each config
// file, and the directories of the certificates it names.
func (s *Server) addWatches(w *fsnotify.Watcher) {
	dirs := watchDirs(s.opts.ConfigPaths)
	for _, f := range s.snap.Load().certFiles {
		dirs = append(dirs, filepath.Dir(f))
	}
	for _, dir := range dirs {
		if err := w.Add(dir); err != nil {
			s.log.Debug("cannot watch config directory", "dir", dir, "error", err)
		}
	}
}

// watchDirs lists the directories to watch for paths.
func watchDirs(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil || !info.IsDir() {
			add(filepath.Dir(p))
			continue
		}
		walkDirs(p, 0, add)
	}
	return out
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
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			walkDirs(p, depth+1, add)
		}
	}
}
