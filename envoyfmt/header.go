package envoyfmt

import (
	"fmt"
	"strings"
)

// isHeaderCommand reports whether op takes header names, "X?Y".
func isHeaderCommand(op string) bool {
	return op == "REQ" || op == "RESP" || op == "REQ_WITHOUT_QUERY"
}

// headerOperator parses the rest of a header command whose name ends at
// s[j]: [":N"] "(" X ["?" Y] ")" [":N" / ignored text] "%".
func headerOperator(s string, i, j int, seg Segment) (Segment, int, error) {
	var err error
	if j < len(s) && s[j] == ':' { // the older %REQ:N(X)%
		if seg.Max, j, err = length(s, seg.Op, j); err != nil {
			return seg, 0, err
		}
	}
	switch {
	case j < len(s) && s[j] == '(':
	case j < len(s) && s[j] == '%':
		return seg, 0, errNeedsHeader(seg.Op)
	default:
		return seg, 0, errNotTerminated(seg.Op, i)
	}
	k := strings.IndexAny(s[j+1:], ")\n")
	switch {
	case k < 0 || s[j+1+k] != ')':
		return seg, 0, errNoClosing(seg.Op, i)
	case seg.Max > 0 && strings.IndexByte(s[j+1:j+1+k], '%') >= 0:
		// The older form ended at the first '%'.
		return seg, 0, errNotTerminated(seg.Op, i)
	}
	seg.Arg, seg.HasArg = s[j+1:j+1+k], true
	j += k + 2
	if seg.Max == 0 {
		if seg.Max, j, err = headerTail(s, seg.Op, i, j); err != nil {
			return seg, 0, err
		}
	}
	if j >= len(s) || s[j] != '%' {
		return seg, 0, errNotTerminated(seg.Op, i)
	}
	if seg.Header, seg.Alt, err = headerNames(seg.Op, seg.Arg); err != nil {
		return seg, 0, err
	}
	return seg, j + 1, nil
}

// headerTail parses what follows the ')' of a header argument, at s[j]: a
// length, or text up to the next '%' that is ignored. It returns the
// length and the offset of the closing '%'.
func headerTail(s, op string, i, j int) (int, int, error) {
	if j < len(s) && s[j] == ':' {
		if k := digitsEnd(s, j+1); k >= len(s) || s[k] != '%' {
			return 0, 0, errNoClosing(op, i)
		}
		return length(s, op, j)
	}
	k := strings.IndexAny(s[j:], "%:)\n")
	if k < 0 || s[j+k] != '%' {
		return 0, 0, errNoClosing(op, i)
	}
	return 0, j + k, nil
}

// headerNames splits and checks the argument of a header command.
func headerNames(op, arg string) (hdr, alt string, err error) {
	if arg == "" {
		return "", "", errNeedsHeader(op)
	}
	hdr, alt, _ = strings.Cut(arg, "?")
	switch {
	case strings.Contains(alt, "?"):
		return "", "", fmt.Errorf("%%%s(%s)%%: more than one alternative header", op, arg)
	case !validHeaderName(hdr):
		return "", "", fmt.Errorf("invalid header name %q", hdr)
	case alt != "" && !validHeaderName(alt):
		return "", "", fmt.Errorf("invalid header name %q", alt)
	}
	return hdr, alt, nil
}

func errNeedsHeader(op string) error {
	return fmt.Errorf("%%%s%% needs a header name, e.g. %%%s(X-REQUEST-ID)%%", op, op)
}

// validHeaderName reports whether name is an HTTP token (RFC 9110), or
// ':' followed by one (a pseudo-header); ":" alone is accepted too.
func validHeaderName(name string) bool {
	if name == "" || name[0] != ':' && !isTokenByte(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	return ' ' < c && c < 0x7f && strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) < 0
}
