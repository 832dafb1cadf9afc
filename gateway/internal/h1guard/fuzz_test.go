package h1guard

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Fuzz flags.
const (
	fuzzH2C     = 1 << iota // Limits.AllowH2C
	fuzzSmall               // small limits the fuzzer can reach
	fuzzRespond             // the engine answers upgrades once the client is done
	fuzzSwitch              // ... with a 101, else with a 403
)

// fuzzLimits returns the limits flags select.
func fuzzLimits(flags uint8) Limits {
	lim := Limits{AllowH2C: flags&fuzzH2C != 0}
	if flags&fuzzSmall != 0 {
		lim.MaxHeaderBytes, lim.MaxHeaders, lim.MaxTarget, lim.MaxChunkLine = 300, 6, 40, 24
	}
	return lim
}

// piecesConn returns its pieces one per Read (split further if p is
// smaller), then io.EOF.
type piecesConn struct {
	fakeConn
	pieces [][]byte
}

func (c *piecesConn) Read(p []byte) (int, error) {
	for len(c.pieces) > 0 && len(c.pieces[0]) == 0 {
		c.pieces = c.pieces[1:]
	}
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	return n, nil
}

// fuzzResponse returns the engine's answer to upgrade requests that flags
// select, "" for none.
func fuzzResponse(flags uint8) string {
	switch {
	case flags&fuzzRespond == 0:
		return ""
	case flags&fuzzSwitch != 0:
		return ws101
	}
	return resp403
}

// feed runs a guard over pieces, read size bytes at a time. The guard holds
// the client's bytes after an upgrade request until its response; the
// engine writes resp (if not "") only when the client is done, so the guard
// holds all of them, however they arrive, and reads on until no upgrade
// awaits a response.
func feed(t *testing.T, lim Limits, size int, resp string, pieces ...[]byte) result {
	c := &piecesConn{pieces: pieces}
	var res result
	g := New(c, lim, func(r *Refusal) { res.refusals = append(res.refusals, r) })
	drain(t, g, size, &res)
	for resp != "" && g.phase.Load() == phasePending {
		if _, err := g.Write([]byte(resp)); err != nil {
			t.Fatal(err)
		}
		drain(t, g, size, &res)
	}
	res.written = c.out.String()
	return res
}

func FuzzGuard(f *testing.F) {
	for _, tc := range streamCases() {
		in := tc.in
		if len(in) > 4096 {
			in = in[:4096]
		}
		flags := uint8(0)
		if tc.lim.AllowH2C {
			flags |= fuzzH2C
		}
		f.Add([]byte(in), uint16(len(in)/2), uint8(0), flags)
		f.Add([]byte(in), uint16(len(in)/3), uint8(5), flags|fuzzSmall)
	}
	f.Add([]byte(wsReq+frames), uint16(len(wsReq)), uint8(0), uint8(0))
	f.Add([]byte(connect+get), uint16(3), uint8(1), uint8(0))
	f.Add([]byte(wsReq+frames), uint16(len(wsReq)+3), uint8(0), uint8(fuzzRespond|fuzzSwitch))
	f.Add([]byte(h2cReq+h2Preface+h2Settings), uint16(len(h2cReq)), uint8(7), uint8(fuzzRespond|fuzzSwitch))
	f.Add([]byte(wsReq+get+wsReq+frames), uint16(len(wsReq)+5), uint8(3), uint8(fuzzRespond))
	f.Add([]byte(connect+"\r\n"+get+frames), uint16(len(connect)), uint8(0), uint8(fuzzRespond|fuzzSmall))
	// A head longer than one 4096-byte read, then a bad one.
	f.Add([]byte(withField("X-A: "+strings.Repeat("c", 4100)+"\r\n")+"0\r\nX-T: a\n\r\n"), uint16(105), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, split uint16, size uint8, flags uint8) {
		if len(in) > 64<<10 {
			t.Skip("long inputs only repeat shorter ones, slowly")
		}
		lim, resp := fuzzLimits(flags), fuzzResponse(flags)
		k := int(split) % (len(in) + 1)
		whole := feed(t, lim, 4096, resp, bytes.Clone(in))
		parts := feed(t, lim, 2+int(size)%64, resp, bytes.Clone(in[:k]), bytes.Clone(in[k:]))
		checkSame(t, whole, parts)
		again := feed(t, lim, 4096, resp, []byte(whole.delivered))
		if again.delivered != whole.delivered || len(again.refusals) != 0 {
			t.Fatalf("the delivered bytes %q do not re-validate: delivered %q, refusals %v",
				whole.delivered, again.delivered, again.refusals)
		}
		checkBoundaries(t, lim, resp, []byte(whole.delivered))
	})
}

// checkSame fails unless two runs over the same bytes agree. They may
// differ in one way: a violation in a chunked body found before its head
// was delivered in one run (Refusal.HeadHeld) and after it in the other.
// The first then delivers less (nothing of the refused request) and writes
// the refusal.
func checkSame(t *testing.T, a, b result) {
	t.Helper()
	if len(a.refusals) == 1 && len(b.refusals) == 1 && a.refusals[0].HeadHeld != b.refusals[0].HeadHeld {
		held, sent := a, b
		if b.refusals[0].HeadHeld {
			held, sent = b, a
		}
		if !strings.HasPrefix(sent.delivered, held.delivered) || held.written != sent.written+string(responses[held.refusals[0].Status]) {
			t.Fatalf("a body violation refused whole delivered %q and wrote %q; refused in the body, %q and %q",
				held.delivered, held.written, sent.delivered, sent.written)
		}
		held.delivered, held.written, held.refusals = sent.delivered, sent.written, sent.refusals
		a, b = held, sent
	}
	if a.delivered != b.delivered {
		t.Fatalf("split changed the delivered bytes: %q then %q", a.delivered, b.delivered)
	}
	if len(a.refusals) > 1 || len(b.refusals) > 1 {
		t.Fatalf("onRefuse called more than once: %d, %d", len(a.refusals), len(b.refusals))
	}
	if len(a.refusals) != len(b.refusals) {
		t.Fatalf("split changed the refusals: %v then %v", a.refusals, b.refusals)
	}
	if len(a.refusals) == 1 {
		ra, rb := a.refusals[0], b.refusals[0]
		if ra.Status != rb.Status || ra.Reason != rb.Reason || ra.InBody != rb.InBody {
			t.Fatalf("split changed the refusal: %+v then %+v", ra, rb)
		}
	}
	if a.written != b.written {
		t.Fatalf("split changed what was written: %q then %q", a.written, b.written)
	}
}

// checkBoundaries compares where requests end in the delivered bytes, for
// the guard and for net/http's own parser: as far as net/http parses them,
// the two must agree, or a request could be smuggled past the guard.
// net/http refuses many targets the guard leaves to the router ("0",
// "foo"), which would end the comparison early; so each target is first
// replaced, in place and at the same length, by "/aaa...". After a 101 the
// bytes are not requests: the comparison ends there.
func checkBoundaries(t *testing.T, lim Limits, resp string, delivered []byte) {
	t.Helper()
	if bytes.HasPrefix(delivered, []byte("PRI * HTTP/2.0")) {
		return // the guard passed an HTTP/2 connection through
	}
	ends, passed := guardEnds(t, lim, resp, delivered)
	b := plainTargets(delivered, ends)
	br := bufio.NewReader(bytes.NewReader(b))
	for i := 0; !passed || i < len(ends); i++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return // net/http refuses (or the bytes end): nothing it accepts
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		end := len(b) - br.Buffered()
		if i >= len(ends) || ends[i] != end {
			t.Fatalf("request %d: net/http ends it at %d, the guard at %v", i, end, ends)
		}
	}
}

// plainTargets returns a copy of delivered whose request-targets, in the
// heads starting at 0 and at each of ends, are "/" then "a"s.
func plainTargets(delivered []byte, ends []int) []byte {
	b := bytes.Clone(delivered)
	for _, start := range append([]int{0}, ends...) {
		line := b[start:]
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			break
		}
		target := line[sp+1:]
		n := bytes.IndexByte(target, ' ')
		if n < 0 {
			break
		}
		target[0] = '/'
		for i := 1; i < n; i++ {
			target[i] = 'a'
		}
	}
	return b
}

// guardEnds returns the offsets in delivered where the guard sees each
// request end, feeding it one byte at a time, and whether a 101 ended the
// requests. The read buffer holds any head whole, so a request ends within
// the Read that counts it. The engine answers an upgrade request with resp
// (if not "") as soon as it has read it, so the guard holds nothing.
func guardEnds(t *testing.T, lim Limits, resp string, delivered []byte) (ends []int, passed bool) {
	g := New(&fakeConn{data: delivered, step: 1}, lim, nil)
	buf := make([]byte, len(delivered)+1)
	off := 0
	for {
		n, err := g.Read(buf)
		off += n
		if g.sc.msgs > len(ends) {
			ends = append(ends, off)
		}
		if resp != "" && g.phase.Load() == phasePending {
			g.Write([]byte(resp))
		}
		if err != nil {
			return ends, g.phase.Load() == phasePass
		}
	}
}
