package accesslog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/envoyfmt"
)

// Access-log line formats: Envoy substitution format strings as Istio uses
// them. Compiled once at construction; appending a line allocates nothing.

// defaultText is Istio's EnvoyTextLogFormat (pilot/pkg/model/telemetry_logging.go).
const defaultText = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
	`%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ` +
	`"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
	`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
	`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% ` +
	`%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% ` +
	`%REQUESTED_SERVER_NAME% %ROUTE_NAME%` + "\n"

// defaultJSON is Istio's EnvoyJSONLogFormatIstio plus gatehouse's
// authorization_policy (emitted only when set). Envoy's JSON formatter
// sorts keys, so the output order is alphabetical, not this order.
var defaultJSON = map[string]any{
	"start_time":                        "%START_TIME%",
	"route_name":                        "%ROUTE_NAME%",
	"method":                            "%REQ(:METHOD)%",
	"path":                              "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
	"protocol":                          "%PROTOCOL%",
	"response_code":                     "%RESPONSE_CODE%",
	"response_flags":                    "%RESPONSE_FLAGS%",
	"response_code_details":             "%RESPONSE_CODE_DETAILS%",
	"connection_termination_details":    "%CONNECTION_TERMINATION_DETAILS%",
	"bytes_received":                    "%BYTES_RECEIVED%",
	"bytes_sent":                        "%BYTES_SENT%",
	"duration":                          "%DURATION%",
	"upstream_service_time":             "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
	"x_forwarded_for":                   "%REQ(X-FORWARDED-FOR)%",
	"user_agent":                        "%REQ(USER-AGENT)%",
	"request_id":                        "%REQ(X-REQUEST-ID)%",
	"authority":                         "%REQ(:AUTHORITY)%",
	"upstream_host":                     "%UPSTREAM_HOST%",
	"upstream_cluster":                  "%UPSTREAM_CLUSTER_RAW%",
	"upstream_local_address":            "%UPSTREAM_LOCAL_ADDRESS%",
	"downstream_local_address":          "%DOWNSTREAM_LOCAL_ADDRESS%",
	"downstream_remote_address":         "%DOWNSTREAM_REMOTE_ADDRESS%",
	"requested_server_name":             "%REQUESTED_SERVER_NAME%",
	"upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
	"authorization_policy":              "%AUTHZ_POLICY%",
}

// Format is a compiled line format. It is immutable and safe for
// concurrent use.
type Format struct {
	json   bool
	text   []segment // TEXT: literal, value, literal, value, ..., then '\n'
	pieces []piece   // JSON: literal JSON, value slot, ..., then '\n'
	host   string    // %HOSTNAME%
}

// segment is a literal followed by an optional operator (src.op == opNone).
type segment struct {
	lit      string
	src, alt source              // alt: the Y of REQ(X?Y)
	max      int                 // :N truncation, 0 = none
	mode     uint8               // address part or GRPC_STATUS form
	noQuery  bool                // REQ_WITHOUT_QUERY
	escSpace bool                // TEXT outside "...": a space would split the field
	time     envoyfmt.TimeFormat // START_TIME(format); zero: Envoy's default
}

type piece struct {
	lit        string    // pre-encoded JSON
	single     bool      // one operator: typed value (number, string or null)
	seg        segment   // the single operator
	tmpl       []segment // several operators and/or literals: one JSON string
	omitAbsent bool      // lit holds ,"key": and is skipped with the value when absent
	hasSlot    bool
}

// NewFormat compiles an access log format: encoding is TEXT (or "") or
// JSON, format an Envoy format string (TEXT) or a JSON object of key to
// format string (JSON); "" means Istio's default for the encoding.
func NewFormat(encoding, format string) (*Format, error) {
	f := &Format{}
	f.host = hostname()
	switch {
	case encoding == "" || strings.EqualFold(encoding, "TEXT"):
		if format == "" {
			format = defaultText
		}
		// Istio appends the newline when missing; one is always written.
		segs, err := parseSegments(strings.TrimSuffix(format, "\n"), true)
		if err != nil {
			return nil, err
		}
		f.text = segs
	case strings.EqualFold(encoding, "JSON"):
		f.json = true
		tree, omit := defaultJSON, map[string]bool{"authorization_policy": true}
		if strings.TrimSpace(format) != "" {
			// Istio parses accessLogFormat as a JSON object of key -> format
			// (it logs a parse error and falls back to the default; gatehouse
			// rejects the config instead).
			var err error
			if tree, err = parseJSONFormat(format); err != nil {
				return nil, err
			}
			omit = nil
		}
		b := &jsonBuilder{}
		if err := b.object(tree, omit); err != nil {
			return nil, err
		}
		b.cut(nil)
		f.pieces = b.pieces
	default:
		return nil, fmt.Errorf("accessLogEncoding %q: want TEXT or JSON", encoding)
	}
	return f, nil
}

func parseJSONFormat(format string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(format))
	d.UseNumber()
	var tree map[string]any
	if err := d.Decode(&tree); err != nil || tree == nil {
		if err == nil {
			err = errors.New("not an object")
		}
		return nil, fmt.Errorf("accessLogFormat with accessLogEncoding JSON must be a JSON object of key to format string: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("accessLogFormat with accessLogEncoding JSON: unexpected data after the JSON object")
	}
	return tree, nil
}

// jsonBuilder flattens a JSON template into literal pieces and slots.
type jsonBuilder struct {
	lit    []byte
	pieces []piece
}

func (b *jsonBuilder) cut(p *piece) {
	var q piece
	if p != nil {
		q = *p
		q.hasSlot = true
	}
	q.lit = string(b.lit)
	b.lit = b.lit[:0]
	if q.lit != "" || q.hasSlot {
		b.pieces = append(b.pieces, q)
	}
}

func (b *jsonBuilder) object(m map[string]any, omit map[string]bool) error {
	keys := slices.Sorted(maps.Keys(m)) // Envoy's JSON formatter sorts keys (deterministic output)
	b.lit = append(b.lit, '{')
	for i, k := range keys {
		if omit[k] {
			// Only used for the default, where the key is never first.
			segs, err := parseSegments(m[k].(string), false)
			if err != nil {
				return err
			}
			b.cut(nil)
			b.lit = append(b.lit, ',')
			b.lit = appendEscaped(append(b.lit, '"'), k, false)
			b.lit = append(b.lit, '"', ':')
			b.cut(&piece{single: true, seg: segs[0], omitAbsent: true})
			continue
		}
		if i > 0 {
			b.lit = append(b.lit, ',')
		}
		b.lit = appendEscaped(append(b.lit, '"'), k, false)
		b.lit = append(b.lit, '"', ':')
		if err := b.value(k, m[k]); err != nil {
			return err
		}
	}
	b.lit = append(b.lit, '}')
	return nil
}

func (b *jsonBuilder) value(key string, v any) error {
	switch v := v.(type) {
	case string:
		segs, err := parseSegments(v, false)
		if err != nil {
			return fmt.Errorf("%w (JSON key %q)", err, key)
		}
		switch {
		case len(segs) == 1 && segs[0].lit == "" && segs[0].src.op != opNone:
			b.cut(&piece{single: true, seg: segs[0]})
		case len(segs) == 1 && segs[0].src.op == opNone:
			b.lit = append(appendEscaped(append(b.lit, '"'), segs[0].lit, false), '"')
		default:
			for i := range segs { // literals are emitted inside a JSON string
				segs[i].lit = string(appendEscaped(nil, segs[i].lit, false))
			}
			b.cut(&piece{tmpl: segs})
		}
	case json.Number:
		b.lit = append(b.lit, v.String()...)
	case bool:
		b.lit = strconv.AppendBool(b.lit, v)
	case nil:
		b.lit = append(b.lit, "null"...)
	case map[string]any:
		return b.object(v, nil)
	case []any:
		b.lit = append(b.lit, '[')
		for i, x := range v {
			if i > 0 {
				b.lit = append(b.lit, ',')
			}
			if err := b.value(key, x); err != nil {
				return err
			}
		}
		b.lit = append(b.lit, ']')
	default:
		return fmt.Errorf("accessLogFormat: unsupported JSON value %T for key %q", v, key)
	}
	return nil
}

// Append appends the line for e, '\n'-terminated, to b. It allocates
// only to grow b.
func (f *Format) Append(b []byte, e *Entry) []byte {
	if !f.json {
		for i := range f.text {
			s := &f.text[i]
			b = append(b, s.lit...)
			if s.src.op != opNone {
				b = f.appendValue(b, e, s, outText)
			}
		}
		return append(b, '\n')
	}
	for i := range f.pieces {
		p := &f.pieces[i]
		if p.omitAbsent {
			if k, _, _ := f.eval(e, &p.seg); k == kindAbsent {
				continue
			}
		}
		b = append(b, p.lit...)
		switch {
		case p.single:
			b = f.appendValue(b, e, &p.seg, outJSON)
		case p.hasSlot:
			b = append(b, '"')
			for j := range p.tmpl {
				s := &p.tmpl[j]
				b = append(b, s.lit...)
				if s.src.op != opNone {
					b = f.appendValue(b, e, s, outJSONInner)
				}
			}
			b = append(b, '"')
		}
	}
	return append(b, '\n')
}
