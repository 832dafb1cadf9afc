package config

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inotifyWatcher watches directories with Linux inotify directly. fsnotify
// (used elsewhere) cannot report IN_CLOSE_WRITE in the version we use:
// its close-write op is unexported. Without it a reload cannot tell a
// file its writer is still writing (a slow scp, a script writing in
// pieces) from one that is finished.
type inotifyWatcher struct {
	f      *os.File // non-blocking inotify fd, so Close ends a pending Read
	mu     sync.Mutex
	dirs   map[int32]string // watch descriptor -> directory
	byPath map[string]int32
	ev     chan fileEvent
	errs   chan error
	done   chan struct{}
}

const inotifyMask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM |
	unix.IN_MOVED_TO | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

func newFileWatcher() (fileWatcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	w := &inotifyWatcher{f: os.NewFile(uintptr(fd), "inotify"), dirs: map[int32]string{}, byPath: map[string]int32{},
		ev: make(chan fileEvent, 64), errs: make(chan error, 1), done: make(chan struct{})}
	go w.read()
	return w, nil
}

func (w *inotifyWatcher) events() <-chan fileEvent { return w.ev }
func (w *inotifyWatcher) errors() <-chan error     { return w.errs }
func (w *inotifyWatcher) reportsClose() bool       { return true }

// add watches dir (again: a directory replaced under the same name gets a
// new watch).
func (w *inotifyWatcher) add(dir string) error {
	wd, err := unix.InotifyAddWatch(int(w.f.Fd()), dir, inotifyMask)
	if err != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.byPath[dir]; ok && old != int32(wd) {
		delete(w.dirs, old)
	}
	w.dirs[int32(wd)] = dir
	w.byPath[dir] = int32(wd)
	return nil
}

func (w *inotifyWatcher) close() error {
	err := w.f.Close()
	<-w.done
	return err
}

// read turns inotify records into fileEvents until the fd is closed.
func (w *inotifyWatcher) read() {
	defer close(w.done)
	defer close(w.ev)
	var buf [64 * (unix.SizeofInotifyEvent + unix.NAME_MAX + 1)]byte
	for {
		n, err := w.f.Read(buf[:])
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				select {
				case w.errs <- err:
				default:
				}
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			raw := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(raw.Len)]
			off += unix.SizeofInotifyEvent + int(raw.Len)
			w.deliver(raw.Wd, raw.Mask, cString(name))
		}
	}
}

func (w *inotifyWatcher) deliver(wd int32, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		w.ev <- fileEvent{op: opOverflow}
		return
	}
	w.mu.Lock()
	dir, ok := w.dirs[wd]
	if mask&unix.IN_IGNORED != 0 {
		delete(w.dirs, wd)
		if w.byPath[dir] == wd {
			delete(w.byPath, dir)
		}
	}
	w.mu.Unlock()
	if !ok || mask&unix.IN_IGNORED != 0 {
		return
	}
	path := dir
	if name != "" {
		path = filepath.Join(dir, name)
	}
	var op fileOp
	switch {
	case mask&unix.IN_CLOSE_WRITE != 0:
		op = opClosed
	case mask&unix.IN_MODIFY != 0:
		op = opWrite
	case mask&unix.IN_CREATE != 0 && mask&unix.IN_ISDIR == 0 && isRegular(path):
		op = opCreated
	default:
		op = opReplace
	}
	w.ev <- fileEvent{path: path, op: op, dir: mask&unix.IN_ISDIR != 0}
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// isRegular reports whether path is a regular file (not a symbolic link:
// a ConfigMap's "..data_tmp" link is complete when created).
func isRegular(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().IsRegular()
}
