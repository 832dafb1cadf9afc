package envoyfmt

import (
	"fmt"
	"strconv"
	"strings"
)

// Segment is one piece of a parsed format: literal text, then at most one
// command operator. A Segment is a plain value; callers may copy it and
// adjust their copy (for example to canonicalize Header before String).
type Segment struct {
	// Lit is the literal text before the operator, with "%%" turned into "%".
	Lit string
	// Op is the command, "REQ" in %REQ(X):5%; "" when the segment is only
	// literal text (the last segment of a format may be).
	Op string
	// Arg is the text between the parentheses, as written; HasArg reports
	// whether there were parentheses at all (Arg may be "").
	Arg    string
	HasArg bool
	// Max is the :N truncation in bytes, 0 for none.
	Max int
	// Header and Alt are, for REQ, RESP and REQ_WITHOUT_QUERY, the header X
	// and the alternative Y of "X?Y", as written; Alt is "" when absent.
	Header, Alt string
	// Time is START_TIME's format; the zero TimeFormat is Envoy's default.
	Time TimeFormat
}

// Parse splits format into segments: each holds the literal text before
// an operator and the operator; literal text after the last operator gets
// a segment of its own, and so does an empty format. It returns an error
// for a malformed operator or argument; see the package documentation
// for the grammar. Command names are not checked.
func Parse(format string) ([]Segment, error) {
	var segs []Segment
	var lit strings.Builder
	for i := 0; i < len(format); {
		switch {
		case format[i] != '%':
			n := strings.IndexByte(format[i:], '%')
			if n < 0 {
				n = len(format) - i
			}
			lit.WriteString(format[i : i+n])
			i += n
		case i+1 < len(format) && format[i+1] == '%':
			lit.WriteByte('%')
			i += 2
		default:
			seg, next, err := operator(format, i)
			if err != nil {
				return nil, err
			}
			seg.Lit = lit.String()
			lit.Reset()
			segs = append(segs, seg)
			i = next
		}
	}
	if lit.Len() > 0 || len(segs) == 0 {
		segs = append(segs, Segment{Lit: lit.String()})
	}
	return segs, nil
}

// operator parses the operator starting at s[i] == '%' and returns it and
// the offset just past its closing '%'.
func operator(s string, i int) (Segment, int, error) {
	j := i + 1
	for j < len(s) && isCommandByte(s[j]) {
		j++
	}
	seg := Segment{Op: s[i+1 : j]}
	if seg.Op == "" {
		return seg, 0, fmt.Errorf("invalid operator at offset %d of %q: single %% not allowed; "+
			"want %%COMMAND%%, %%COMMAND(arg)%% or %%COMMAND(arg):N%% (write %%%% for a literal %%)", i, s)
	}
	if isHeaderCommand(seg.Op) {
		return headerOperator(s, i, j, seg)
	}
	if j < len(s) && s[j] == '(' {
		k := argEnd(s, j+1)
		if k < 0 {
			return seg, 0, errNoClosing(seg.Op, i)
		}
		seg.Arg, seg.HasArg, j = s[j+1:k], true, k+1
	}
	var err error
	if seg.Max, j, err = length(s, seg.Op, j); err != nil {
		return seg, 0, err
	}
	if j >= len(s) || s[j] != '%' {
		return seg, 0, errNotTerminated(seg.Op, i)
	}
	if seg.Op == "START_TIME" && seg.Arg != "" {
		if seg.Time, err = parseTime(seg.Arg); err != nil {
			return seg, 0, err
		}
	}
	return seg, j + 1, nil
}

func isCommandByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// argEnd finds the ')' closing an argument that starts at from: the first
// one followed by '%' or by ':length%' (Envoy's "\((.*?)\)(?::[0-9]+)?%"),
// before any line break; -1 if there is none.
func argEnd(s string, from int) int {
	for k := from; k < len(s) && s[k] != '\n'; k++ {
		if s[k] != ')' {
			continue
		}
		n := k + 1
		if n < len(s) && s[n] == ':' {
			n = digitsEnd(s, n+1)
		}
		if n < len(s) && s[n] == '%' {
			return k
		}
	}
	return -1
}

// digitsEnd skips an optional '+' and decimal digits from i.
func digitsEnd(s string, i int) int {
	if i < len(s) && s[i] == '+' {
		i++
	}
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// length parses an optional ":N" at s[j] and returns N (0 when there is
// none) and the offset after it.
func length(s, op string, j int) (int, int, error) {
	if j >= len(s) || s[j] != ':' {
		return 0, j, nil
	}
	k := digitsEnd(s, j+1)
	n, err := strconv.Atoi(s[j+1 : k])
	if err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("%%%s: length after ':' must be a positive integer, at offset %d", op, j)
	}
	return n, k, nil
}

func errNoClosing(op string, at int) error {
	return fmt.Errorf("%%%s( at offset %d has no closing \")%%\"", op, at)
}

func errNotTerminated(op string, at int) error {
	return fmt.Errorf("operator %%%s at offset %d is not terminated by %%", op, at)
}

// String writes s back in Envoy syntax: the literal with '%' doubled, then
// the operator, its header arguments taken from Header and Alt.
func (s Segment) String() string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(s.Lit, "%", "%%"))
	if s.Op == "" {
		return b.String()
	}
	b.WriteString("%" + s.Op)
	switch {
	case isHeaderCommand(s.Op):
		b.WriteString("(" + s.Header)
		if s.Alt != "" {
			b.WriteString("?" + s.Alt)
		}
		b.WriteByte(')')
	case s.HasArg:
		b.WriteString("(" + s.Arg + ")")
	}
	if s.Max > 0 {
		b.WriteString(":" + strconv.Itoa(s.Max))
	}
	b.WriteByte('%')
	return b.String()
}
