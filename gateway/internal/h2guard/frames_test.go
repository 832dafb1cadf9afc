package h2guard

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// hdr is what the tests check of a frame header the guard parsed.
type hdr struct {
	typ byte
	id  uint32
	len int
}

// splits returns the ways the frame tests cut a stream b into reads: whole,
// a byte at a time, 7 and 4096 bytes at a time, and in two pieces at every
// offset (so a frame header is split in every position).
func splits(b []byte) map[string][][]byte {
	s := map[string][][]byte{
		"whole": {b},
		"bytes": splitEvery(b, 1),
		"7s":    splitEvery(b, 7),
		"4096s": splitEvery(b, 4096),
	}
	for i := 1; i < len(b) && len(b) <= 512; i++ {
		s[fmt.Sprintf("at %d", i)] = [][]byte{b[:i], b[i:]}
	}
	return s
}

// parsed feeds pieces to a frames and returns the headers it found and
// whether it ended at a boundary.
func parsed(pieces [][]byte) ([]hdr, bool) {
	var f frames
	var got []hdr
	for _, p := range pieces {
		for len(p) > 0 {
			k, h := f.step(p)
			if k == 0 {
				panic("step consumed nothing")
			}
			p = p[k:]
			if h != nil {
				got = append(got, hdr{h[3], streamID(h), payloadLen(h)})
			}
		}
	}
	return got, f.boundary()
}

func TestFramesStep(t *testing.T) {
	big := bytes.Repeat([]byte{'d'}, 100000)
	tests := []struct {
		name   string
		frames [][]byte
		want   []hdr
		cut    bool // the stream ends inside a frame
	}{
		{
			name:   "small frames back to back",
			frames: [][]byte{frame(0x4, 0, 0, nil), frame(0x6, 0, 0, make([]byte, 8)), headers(1), rst(1)},
			want:   []hdr{{0x4, 0, 0}, {0x6, 0, 8}, {0x1, 1, 6}, {0x3, 1, 4}},
		},
		{
			name:   "large DATA payloads are skipped",
			frames: [][]byte{headers(3), frame(0x0, 0, 3, big), frame(0x0, 1, 3, big[:16384]), rst(3)},
			want:   []hdr{{0x1, 3, 6}, {0x0, 3, 100000}, {0x0, 3, 16384}, {0x3, 3, 4}},
		},
		{
			name:   "payload bytes that look like headers",
			frames: [][]byte{frame(0x0, 0, 5, headers(7)), frame(0x8, 0, 0, []byte{0, 0, 1, 0})},
			want:   []hdr{{0x0, 5, 15}, {0x8, 0, 4}},
		},
		{
			name:   "largest length, reserved bit, payload to come",
			frames: [][]byte{headers(1), frame(0xff, 0xff, 1<<31|9, big)[:9+1000]},
			want:   []hdr{{0x1, 1, 6}, {0xff, 9, 100000}},
			cut:    true,
		},
		{
			name:   "header to come",
			frames: [][]byte{headers(1), headers(3)[:5]},
			want:   []hdr{{0x1, 1, 6}},
			cut:    true,
		},
	}
	for _, tt := range tests {
		stream := cat(tt.frames...)
		for how, pieces := range splits(stream) {
			got, end := parsed(pieces)
			if !slices.Equal(got, tt.want) || end == tt.cut {
				t.Errorf("%s, %s: headers %v, at a boundary %v; want %v, %v", tt.name, how, got, end, tt.want, !tt.cut)
			}
		}
	}
}

func TestFramesBoundary(t *testing.T) {
	stream := cat(headers(1), frame(0x0, 0, 1, []byte("hello")), frame(0x4, 1, 0, nil))
	ends := map[int]bool{0: true, 15: true, 29: true, 38: true}
	for i := range len(stream) + 1 {
		var f frames
		for p := stream[:i]; len(p) > 0; {
			k, _ := f.step(p)
			p = p[k:]
		}
		if f.boundary() != ends[i] {
			t.Errorf("after %d bytes: boundary() = %v, want %v", i, f.boundary(), ends[i])
		}
	}
}

func TestCounter(t *testing.T) {
	tests := []struct {
		name                  string
		lim                   Limits
		in                    []byte
		opened, resets, maxID int
		tripped               bool
	}{
		{"rapid reset trips at the 500th stream", Limits{}, attack(1, 1000), 500, 499, 999, true},
		{"600 opened, 200 reset", Limits{}, cat(attack(1, 200), opens(401, 400)), 600, 200, 1199, false},
		{"half reset does not trip", Limits{MinStreams: 10}, cat(attack(1, 5), headers(11), headers(13), headers(15), headers(17), headers(19)), 10, 5, 19, false},
		{"more than half trips", Limits{MinStreams: 10}, cat(attack(1, 5), headers(11), headers(13), headers(15), headers(17), headers(19), rst(19)), 10, 6, 19, true},
		{"resets wait for MinStreams", Limits{MinStreams: 10}, attack(1, 9), 9, 9, 17, false},
		{"then one more stream trips", Limits{MinStreams: 10}, cat(attack(1, 9), headers(19)), 10, 9, 19, true},
		{"a stream reset twice counts twice", Limits{MinStreams: 4}, cat(opens(1, 4), rst(1), rst(1), rst(1)), 4, 3, 7, true},
		{"ratio 1 never trips", Limits{MinStreams: 1, MaxResetRatio: 1}, attack(1, 50), 50, 50, 99, false},
		{"custom ratio", Limits{MinStreams: 4, MaxResetRatio: 0.25}, cat(headers(1), headers(3), headers(5), attack(7, 1), rst(1)), 4, 2, 7, true},
		{
			name: "frames that neither open nor reset",
			lim:  Limits{MinStreams: 1},
			in: cat(
				headers(5), headers(2), headers(3), headers(5), // even id, lower id, trailers
				rst(0), rst(4), rst(7), // stream 0, server stream, idle stream
				frame(0x9, 0x4, 5, nil), frame(0x2, 0, 9, make([]byte, 5)), frame(0x0, 1, 5, nil),
			),
			opened: 1, maxID: 5,
		},
		{"reserved bit ignored", Limits{MinStreams: 1}, cat(frame(0x1, 4, 1<<31|1, block), rst(1<<31|1)), 1, 1, 1, true},
	}
	for _, tt := range tests {
		for _, how := range []string{"whole", "bytes"} {
			c := newCounter(tt.lim.withDefaults())
			tripped := false
			for _, p := range splits(tt.in)[how] {
				if c.scan(p) {
					tripped = true
					break
				}
			}
			if c.opened != tt.opened || c.resets != tt.resets || int(c.maxID) != tt.maxID || tripped != tt.tripped {
				t.Errorf("%s, %s: opened %d, resets %d, max id %d, tripped %v; want %d, %d, %d, %v",
					tt.name, how, c.opened, c.resets, c.maxID, tripped, tt.opened, tt.resets, tt.maxID, tt.tripped)
			}
		}
	}
}

func TestGoAwayFrame(t *testing.T) {
	b := goAwayFrame(1<<31 - 1)
	got := parseBack(t, b[:])
	want := []sum{{Type: 0x7, Length: 8, Code: 0xb, Last: 1<<31 - 1}}
	if !slices.Equal(got, want) {
		t.Errorf("goAwayFrame parses as %+v, want %+v", got, want)
	}
}
