package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"
)

// authnError is a token verification failure. Its text is the status
// string Envoy's jwt_authn (google/jwt_verify_lib status.cc) sends as the
// body of the local reply, so clients see what they would see from Istio.
type authnError struct {
	body   string
	status int
}

// Error returns the client-facing body.
func (e *authnError) Error() string { return e.body }

func unauthorized(body string) *authnError {
	return &authnError{body: body, status: http.StatusUnauthorized}
}

// The verification failures, as sentinels so that the request path never
// formats an error.
var (
	errBadFormat     = unauthorized("Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections")
	errHeaderBase64  = unauthorized("Jwt header is an invalid Base64url encoded")
	errHeaderJSON    = unauthorized("Jwt header is an invalid JSON")
	errHeaderAlg     = unauthorized("Jwt header [alg] field is required and must be a string")
	errAlgNotImpl    = unauthorized("Jwt header [alg] is not supported")
	errHeaderKid     = unauthorized("Jwt header [kid] field is not a string")
	errPayloadBase64 = unauthorized("Jwt payload is an invalid Base64url encoded")
	errPayloadJSON   = unauthorized("Jwt payload is an invalid JSON")
	errIssType       = unauthorized("Jwt payload [iss] field is not a string")
	errSubType       = unauthorized("Jwt payload [sub] field is not a string")
	errAudType       = unauthorized("Jwt payload [aud] field is not a string or string list")
	errJtiType       = unauthorized("Jwt payload [jti] field is not a string")
	errExpType       = unauthorized("Jwt payload [exp] field is not an integer")
	errNbfType       = unauthorized("Jwt payload [nbf] field is not an integer")
	errIatType       = unauthorized("Jwt payload [iat] field is not an integer")
	errExpRange      = unauthorized("Jwt payload [exp] field is out of range")
	errNbfRange      = unauthorized("Jwt payload [nbf] field is out of range")
	errIatRange      = unauthorized("Jwt payload [iat] field is out of range")
	errSigBase64     = unauthorized("Jwt signature is an invalid Base64url encoded")
	errUnknownIssuer = unauthorized("Jwt issuer is not configured")
	errExpired       = unauthorized("Jwt is expired")
	errNoExp         = unauthorized("Jwt payload has no [exp] field")
	errNotYetValid   = unauthorized("Jwt not yet valid")
	errVerification  = unauthorized("Jwt verification fails")
	errKidAlg        = unauthorized("Jwks doesn't have key to match kid or alg from Jwt")
	errFetch         = unauthorized("Jwks remote fetch is failed")
	errNotUnique     = unauthorized(BodyJwtNotUnique)
	// errAudience is the one failure Envoy answers with 403.
	errAudience = &authnError{body: "Audiences in Jwt are not allowed", status: http.StatusForbidden}
)

// maxJSONDepth bounds the nesting of a token's header and payload. Real
// claims are a few levels deep; the limit keeps hostile tokens cheap.
const maxJSONDepth = 32

var (
	errDuplicateKey = errors.New("duplicate object key")
	errTooDeep      = errors.New("JSON nested too deeply")
	errNotObject    = errors.New("not a JSON object")
)

// decodeObject decodes a JSON object strictly: duplicate keys at any level
// are an error (encoding/json keeps the last value, other parsers the
// first, so accepting them would let two verifiers disagree about a
// claim), nesting is bounded, invalid UTF-8 and trailing data are errors,
// and numbers stay json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("invalid UTF-8")
	}
	if err := checkKeys(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errNotObject
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, errors.New("trailing data after the JSON object")
	}
	return m, nil
}

// checkKeys scans JSON text for duplicate object keys (compared after
// unescaping) and for nesting deeper than maxJSONDepth. It only tracks
// structure; encoding/json checks the syntax afterwards.
func checkKeys(b []byte) error {
	var stackBuf [maxJSONDepth]int // per open container: its first key in keys, or -1 for arrays
	var keysBuf [32][]byte
	stack, keys := stackBuf[:0], keysBuf[:0]
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) == maxJSONDepth {
				return errTooDeep
			}
			stack, expectKey = append(stack, len(keys)), c == '{'
			if c == '[' {
				stack[len(stack)-1] = -1
			}
		case '}', ']':
			if len(stack) == 0 {
				return errors.New("unbalanced JSON")
			}
			if top := stack[len(stack)-1]; top >= 0 {
				keys = keys[:top]
			}
			stack, expectKey = stack[:len(stack)-1], false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] >= 0
		case '"':
			end, escaped := scanString(b, i)
			if end < 0 {
				return errors.New("unterminated JSON string")
			}
			if expectKey {
				if err := addKey(&keys, stack[len(stack)-1], b[i:end+1], escaped); err != nil {
					return err
				}
				expectKey = false
			}
			i = end
		}
	}
	return nil
}

// addKey appends a key to the keys of the innermost object (which start
// at first), failing if it is already there.
func addKey(keys *[][]byte, first int, quoted []byte, escaped bool) error {
	k, err := keyText(quoted, escaped)
	if err != nil {
		return err
	}
	for _, prev := range (*keys)[first:] {
		if bytes.Equal(prev, k) {
			return errDuplicateKey
		}
	}
	*keys = append(*keys, k)
	return nil
}

// scanString returns the index of the quote closing the string that
// starts at b[i], and whether the string holds escapes; -1 if unclosed.
func scanString(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return -1, escaped
}

// keyText returns a key's text: the raw bytes, or the unescaped form when
// it holds escapes ("\u0073ub" is "sub").
func keyText(quoted []byte, escaped bool) ([]byte, error) {
	if !escaped {
		return quoted[1 : len(quoted)-1], nil
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}
