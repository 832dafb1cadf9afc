package config

import "time"

// createdWait is how long a file created in place may go without a write
// before it counts as complete. A created file is normally being written
// (its first write event comes only once a large write returns) and is
// complete at its close; a hard link is created whole and never closed.
const createdWait = 5 * time.Second

// pending tracks the files a writer may still be writing, where the
// backend reports closes (Linux): a written file until its writer closes
// it, and a created one until it is written or createdWait passes.
type pending struct {
	writing map[string]bool      // written in place, not closed yet
	created map[string]time.Time // created in place, not written yet
}

func newPending() *pending {
	return &pending{writing: map[string]bool{}, created: map[string]time.Time{}}
}

// note records ev and reports whether it schedules a reload: a write
// waits for its close instead.
func (p *pending) note(ev fileEvent, now time.Time) bool {
	switch ev.op {
	case opWrite:
		p.writing[ev.path] = true
		delete(p.created, ev.path)
		return false
	case opCreated:
		p.created[ev.path] = now
		return true // to look again after createdWait
	}
	delete(p.writing, ev.path)
	delete(p.created, ev.path)
	return true
}

// busy reports whether a file may still be being written at now, and
// forgets created files that waited long enough; recheck says a created
// file is still waiting, so the caller must look again later.
func (p *pending) busy(now time.Time) (busy, recheck bool) {
	for path, at := range p.created {
		if now.Sub(at) >= createdWait {
			delete(p.created, path)
		}
	}
	return len(p.writing)+len(p.created) > 0, len(p.created) > 0
}
