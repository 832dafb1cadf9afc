package h2guard

import (
	"errors"
	"io"
	"testing"
)

// fuzzSeeds are client byte streams after the preface.
func fuzzSeeds() [][]byte {
	return [][]byte{
		nil,
		attack(1, 6),
		cat(opens(1, 4), rst(3), rst(3), rst(7), rst(9)),
		cat([]byte(settings), headers(1), frame(0x0, 0, 1, make([]byte, 300)), rst(1), headers(3)),
		cat(frame(0x0, 0, 1, headers(3)), attack(5, 3)),
		frame(0x1, 0x4, 1<<31|1, block),
		[]byte("\xff\xff\xff\x01\x00\x00\x00\x00\x01garbage"),
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	}
}

// counts is what a run of the counter ends with.
type counts struct {
	opened, resets int
	maxID          uint32
	n, left        int
	tripped        bool
}

func countsOf(c *counter, tripped bool) counts {
	return counts{c.opened, c.resets, c.maxID, c.f.n, c.f.left, tripped}
}

// fuzzLimits returns small limits the fuzzer can trip.
func fuzzLimits(minStreams uint8) Limits {
	return Limits{MinStreams: int(minStreams%8) + 1}.withDefaults()
}

// checkSplit counts data whole, then split at at, then through a guard
// reading size bytes at a time, and fails if the counts differ.
func checkSplit(t *testing.T, data []byte, at, size int, lim Limits) {
	whole := newCounter(lim)
	want := countsOf(&whole, whole.scan(data))

	split := newCounter(lim)
	if got := countsOf(&split, split.scan(data[:at]) || split.scan(data[at:])); got != want {
		t.Fatalf("split at %d: %+v, whole: %+v", at, got, want)
	}

	f := newFake(cat([]byte(preface), data[:at]), data[at:])
	closes := 0
	g := New(f, lim, func(string) { closes++ })
	_, err := readAll(t, g, size)
	tripped := errors.Is(err, ErrPrematureResets)
	if !tripped && !errors.Is(err, io.EOF) {
		t.Fatalf("Read: %v", err)
	}
	if got := countsOf(&g.rd, tripped); got != want || closes != btoi(tripped) {
		t.Fatalf("guard split at %d, reads of %d: %+v, onClose %d times; whole: %+v", at, size, got, closes, want)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzCounts checks that the guard never panics on what a client sends
// after the preface, and counts the same whatever the split of it.
func FuzzCounts(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, uint16(len(s)/2), uint16(9), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, at, size uint16, minStreams uint8) {
		checkSplit(t, data, int(at)%(len(data)+1), int(size)%4096+1, fuzzLimits(minStreams))
	})
}

// TestCountsAnySplit runs FuzzCounts's check on its seeds, split at every
// offset and read in pieces of several sizes.
func TestCountsAnySplit(t *testing.T) {
	tests := []struct {
		name string
		lim  Limits
	}{
		{"defaults", Limits{}.withDefaults()},
		{"MinStreams 1", fuzzLimits(0)},
		{"MinStreams 3", fuzzLimits(2)},
	}
	for _, tt := range tests {
		for _, data := range fuzzSeeds() {
			for at := range len(data) + 1 {
				for _, size := range []int{1, 9, 13, 4096} {
					checkSplit(t, data, at, size, tt.lim)
				}
			}
		}
	}
}
