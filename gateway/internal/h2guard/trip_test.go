package h2guard

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"time"
)

// tripper is a guard whose client trips the rule (MinStreams 2, the
// second reset), with what onClose was told.
type tripper struct {
	f      *fakeConn
	g      *Conn
	reason chan string
}

func newTripper(wait time.Duration) *tripper {
	tr := &tripper{reason: make(chan string, 2)}
	tr.f = newFake([]byte(preface + string(attack(1, 3))))
	tr.g = New(tr.f, Limits{MinStreams: 2}, func(r string) { tr.reason <- r })
	tr.g.wait = wait
	return tr
}

// read reads until the error that ends the reads, on another goroutine.
func (tr *tripper) read(t *testing.T) chan error {
	done := make(chan error, 1)
	go func() {
		_, err := readAll(t, tr.g, 9)
		done <- err
	}()
	return done
}

// awaitClosing waits until the reading goroutine has tripped the rule.
func (tr *tripper) awaitClosing() {
	for tr.g.mode.Load() == modeDetect || tr.g.mode.Load() == modeActive {
		runtime.Gosched()
	}
}

// check checks the end of a tripped guard: the Read's error, one onClose,
// what was written, a closed conn, and failing Reads and Writes after.
func (tr *tripper) check(t *testing.T, readErr error, want []byte, goAway bool) {
	t.Helper()
	if !errors.Is(readErr, ErrPrematureResets) {
		t.Errorf("the tripping Read returned %v, want ErrPrematureResets", readErr)
	}
	if r := <-tr.reason; r != ReasonPrematureResets {
		t.Errorf("onClose(%q), want %q", r, ReasonPrematureResets)
	}
	if len(tr.reason) > 0 {
		t.Error("onClose called twice")
	}
	if goAway {
		ga := goAwayFrame(3)
		want = append(want, ga[:]...)
	}
	out, closed, shutWr := tr.f.state()
	if !bytes.Equal(out, want) || !closed || shutWr != goAway {
		t.Errorf("wrote %q, closed %v, write side shut %v; want %q, true, %v", out, closed, shutWr, want, goAway)
	}
	if _, err := tr.g.Read(make([]byte, 9)); !errors.Is(err, ErrPrematureResets) {
		t.Errorf("a later Read returned %v", err)
	}
	if _, err := tr.g.Write(settingsFrame); !errors.Is(err, ErrPrematureResets) {
		t.Errorf("a later Write returned %v", err)
	}
	if !tr.g.Active() || tr.g.Close() != nil {
		t.Error("a closed guard is not Active, or its Close fails")
	}
}

var settingsFrame = []byte(settings)

func TestTripWriterIdle(t *testing.T) {
	tr := newTripper(time.Minute)
	mustWrite(t, tr.g, settingsFrame)
	tr.check(t, <-tr.read(t), settingsFrame, true)
}

func TestTripWriterStoppedInsideAFrame(t *testing.T) {
	tr := newTripper(time.Millisecond)
	mustWrite(t, tr.g, settingsFrame[:5])
	tr.check(t, <-tr.read(t), settingsFrame[:5], false)
}

func TestTripNextWriteIsCut(t *testing.T) {
	tr := newTripper(time.Minute)
	mustWrite(t, tr.g, settingsFrame[:5])
	done := tr.read(t)
	tr.awaitClosing()
	if err := tr.g.Close(); err != nil {
		t.Errorf("Close while closing: %v", err)
	}
	if _, closed, _ := tr.f.state(); closed {
		t.Error("the engine's Close closed the conn before the GOAWAY")
	}
	n, err := tr.g.Write(cat(settingsFrame[5:], settingsFrame))
	if n != 4 || !errors.Is(err, ErrPrematureResets) {
		t.Errorf("the cut Write returned %d, %v; want 4, ErrPrematureResets", n, err)
	}
	tr.check(t, <-done, settingsFrame, true)
}

func TestTripWriteInProgress(t *testing.T) {
	tr := newTripper(time.Minute)
	tr.f.blocking()
	wrote := make(chan error, 1)
	go func() {
		_, err := tr.g.Write(settingsFrame)
		wrote <- err
	}()
	<-tr.f.entered
	done := tr.read(t)
	tr.awaitClosing()
	close(tr.f.unblock)
	if err := <-wrote; err != nil {
		t.Errorf("the Write in progress returned %v", err)
	}
	tr.check(t, <-done, settingsFrame, true)
}

func TestTripWriterBlocked(t *testing.T) {
	tr := newTripper(time.Millisecond)
	tr.f.blocking()
	wrote := make(chan error, 1)
	go func() {
		_, err := tr.g.Write(settingsFrame)
		wrote <- err
	}()
	<-tr.f.entered
	tr.check(t, <-tr.read(t), nil, false)
	if err := <-wrote; err == nil {
		t.Error("the blocked Write succeeded after the close")
	}
}
