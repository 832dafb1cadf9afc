//go:build !linux

package gateway

import "github.com/fsnotify/fsnotify"

// fsnotifyWatcher watches directories with fsnotify. It cannot tell when
// a writer closes a file, so the watch loop waits for a file's size and
// modification time to stay the same over the settle window instead.
type fsnotifyWatcher struct {
	w  *fsnotify.Watcher
	ev chan fileEvent
}

func newFileWatcher() (fileWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	fw := &fsnotifyWatcher{w: w, ev: make(chan fileEvent, 64)}
	go func() {
		defer close(fw.ev)
		for e := range w.Events {
			op := opReplace
			if e.Op == fsnotify.Write {
				op = opWrite
			}
			fw.ev <- fileEvent{path: e.Name, op: op}
		}
	}()
	return fw, nil
}

func (f *fsnotifyWatcher) add(dir string) error     { return f.w.Add(dir) }
func (f *fsnotifyWatcher) events() <-chan fileEvent { return f.ev }
func (f *fsnotifyWatcher) errors() <-chan error     { return f.w.Errors }
func (f *fsnotifyWatcher) reportsClose() bool       { return false }
func (f *fsnotifyWatcher) close() error             { return f.w.Close() }
