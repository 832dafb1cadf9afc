package tls

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// DefaultHelloLimit is the ClientHello size PeekClientHello allows when
// given no limit. Post-quantum key shares make hellos of 20 KiB and more.
const DefaultHelloLimit = 64 << 10

// Errors returned by PeekClientHello, wrapped with details.
var (
	// ErrNotTLS means the stream does not start with a TLS handshake record.
	ErrNotTLS = errors.New("not a TLS handshake")
	// ErrHelloTooLarge means the ClientHello exceeds the limit.
	ErrHelloTooLarge = errors.New("TLS ClientHello exceeds the size limit")
	// ErrMalformedHello means the records or the ClientHello are invalid.
	ErrMalformedHello = errors.New("malformed TLS ClientHello")
)

const (
	recordHeaderLen = 5
	maxRecordLen    = 1 << 14 // TLSPlaintext.length limit (RFC 8446 §5.1)
	// maxHelloRecords bounds how many records one ClientHello may span, so
	// tiny fragments cannot make the record headers cost more than the hello.
	maxHelloRecords = 64
)

// PeekClientHello reads one TLS ClientHello from r for TLS passthrough and
// returns its SNI, lower-cased and without a trailing dot ("" when the
// hello has none; an IP literal is returned as sent), together with every
// byte it read, so the caller can replay them to the upstream. consumed is
// returned on errors too.
//
// The hello may be split across reads and across up to 64 TLS records;
// the handshake message may be at most limit bytes (DefaultHelloLimit when
// limit <= 0). PeekClientHello never reads past the record that ends the
// hello. It does not set deadlines: the caller bounds the time.
func PeekClientHello(r io.Reader, limit int) (sni string, consumed []byte, err error) {
	if limit <= 0 {
		limit = DefaultHelloLimit
	}
	p := peeker{r: r}
	msg, err := p.readHello(limit)
	if err != nil {
		return "", p.buf, err
	}
	sni, err = parseSNI(msg)
	return sni, p.buf, err
}

type peeker struct {
	r   io.Reader
	buf []byte // everything read so far
}

// read appends exactly n bytes from r to buf and returns them.
func (p *peeker) read(n int) ([]byte, error) {
	start := len(p.buf)
	p.buf = slices.Grow(p.buf, n)[:start+n]
	got, err := io.ReadFull(p.r, p.buf[start:])
	p.buf = p.buf[:start+got]
	if errors.Is(err, io.EOF) && len(p.buf) > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("reading TLS ClientHello: %w", err)
	}
	return p.buf[start:], nil
}

// readHello collects handshake records until they hold a whole handshake
// message, checks that it is a ClientHello and returns its body.
func (p *peeker) readHello(limit int) ([]byte, error) {
	var hs []byte
	for records := 0; records < maxHelloRecords; records++ {
		payload, err := p.readRecord(records == 0)
		if err != nil {
			return nil, err
		}
		hs = append(hs, payload...)
		if len(hs) < 4 {
			continue
		}
		if hs[0] != 1 {
			return nil, fmt.Errorf("%w: handshake message type %d, want ClientHello (1)", ErrMalformedHello, hs[0])
		}
		n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
		if 4+n > limit {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrHelloTooLarge, 4+n, limit)
		}
		if len(hs) >= 4+n {
			return hs[4 : 4+n], nil
		}
	}
	return nil, fmt.Errorf("%w: ClientHello spans more than %d records", ErrMalformedHello, maxHelloRecords)
}

// readRecord reads one handshake record and returns its payload.
func (p *peeker) readRecord(first bool) ([]byte, error) {
	h, err := p.read(recordHeaderLen)
	if err != nil {
		return nil, err
	}
	if h[0] != 0x16 || h[1] != 3 {
		if first {
			return nil, fmt.Errorf("%w: stream starts with % x", ErrNotTLS, h[:3])
		}
		return nil, fmt.Errorf("%w: record type %d inside the ClientHello", ErrMalformedHello, h[0])
	}
	n := int(h[3])<<8 | int(h[4])
	if n == 0 || n > maxRecordLen {
		return nil, fmt.Errorf("%w: handshake record of %d bytes", ErrMalformedHello, n)
	}
	return p.read(n)
}

// parseSNI walks a ClientHello body (RFC 8446 §4.1.2) to the server_name
// extension (RFC 6066 §3).
func parseSNI(msg []byte) (string, error) {
	c := cursor(msg)
	var sess, suites, comp, exts cursor
	if !c.skip(2+32) || !c.vec8(&sess) || len(sess) > 32 || !c.vec16(&suites) || !c.vec8(&comp) {
		return "", fmt.Errorf("%w: truncated hello body", ErrMalformedHello)
	}
	if len(c) == 0 {
		return "", nil // no extensions at all
	}
	if !c.vec16(&exts) || len(c) != 0 {
		return "", fmt.Errorf("%w: bad extensions block", ErrMalformedHello)
	}
	sni, found := "", false
	for len(exts) > 0 {
		var typ int
		var data cursor
		if !exts.u16(&typ) || !exts.vec16(&data) {
			return "", fmt.Errorf("%w: truncated extension", ErrMalformedHello)
		}
		if typ != 0 {
			continue
		}
		if found {
			return "", fmt.Errorf("%w: duplicate server_name extension", ErrMalformedHello)
		}
		found = true
		var err error
		if sni, err = parseServerName(data); err != nil {
			return "", err
		}
	}
	return sni, nil
}

func parseServerName(data cursor) (string, error) {
	var list cursor
	if !data.vec16(&list) || len(data) != 0 || len(list) == 0 {
		return "", fmt.Errorf("%w: bad server_name extension", ErrMalformedHello)
	}
	host := ""
	for len(list) > 0 {
		var typ int
		var name cursor
		if !list.u8(&typ) || !list.vec16(&name) {
			return "", fmt.Errorf("%w: truncated server_name", ErrMalformedHello)
		}
		if typ != 0 {
			continue
		}
		if host != "" {
			return "", fmt.Errorf("%w: more than one host_name", ErrMalformedHello)
		}
		if !validSNI(name) {
			return "", fmt.Errorf("%w: invalid host_name %q", ErrMalformedHello, []byte(name))
		}
		host = string(name)
	}
	return strings.ToLower(strings.TrimSuffix(host, ".")), nil
}

// validSNI accepts the characters of DNS names (A-labels) and IP literals.
func validSNI(b []byte) bool {
	if len(b) == 0 || len(b) > 255 {
		return false
	}
	for _, ch := range b {
		ok := 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' ||
			ch == '-' || ch == '.' || ch == '_' || ch == ':'
		if !ok {
			return false
		}
	}
	return true
}

// cursor reads big-endian TLS presentation-language fields.
type cursor []byte

func (c *cursor) skip(n int) bool {
	if len(*c) < n {
		return false
	}
	*c = (*c)[n:]
	return true
}

func (c *cursor) u8(v *int) bool {
	if len(*c) < 1 {
		return false
	}
	*v = int((*c)[0])
	*c = (*c)[1:]
	return true
}

func (c *cursor) u16(v *int) bool {
	if len(*c) < 2 {
		return false
	}
	*v = int((*c)[0])<<8 | int((*c)[1])
	*c = (*c)[2:]
	return true
}

func (c *cursor) vec(lenBytes int, out *cursor) bool {
	var n int
	var ok bool
	if lenBytes == 1 {
		ok = c.u8(&n)
	} else {
		ok = c.u16(&n)
	}
	if !ok || len(*c) < n {
		return false
	}
	*out = (*c)[:n]
	*c = (*c)[n:]
	return true
}

func (c *cursor) vec8(out *cursor) bool  { return c.vec(1, out) }
func (c *cursor) vec16(out *cursor) bool { return c.vec(2, out) }
