package authz

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// MaxTokenBytes is the longest token gatehouse parses; longer ones are
// rejected before any decoding (security.md JWT-12).
const MaxTokenBytes = 8 << 10

// ClockSkew is the leeway applied to exp, nbf and iat: Envoy's default
// clock_skew_seconds, which Istio does not change.
const ClockSkew = 60 * time.Second

var b64 = base64.RawURLEncoding.Strict()

// token is a parsed, not yet verified JWT.
type token struct {
	raw        string
	alg, kid   string
	payloadSeg string // the payload as sent: base64url without padding
	claims     map[string]any
	iss, sub   string
	azp        string
	aud        []string
	exp, nbf   int64
	iat        int64
	hasExp     bool
	hasNbf     bool
	hasIat     bool
	// verified holds the providers and key sets whose signature check
	// passed, for a token kept in the tokenCache.
	verified proofs
}

// parseToken parses raw as jwt_verify_lib's Jwt::parseFromString does,
// returning its error for the first problem found. The header fields jwk,
// jku, x5u and x5c are ignored: keys only ever come from configuration.
func parseToken(raw string) (*token, *authnError) {
	if len(raw) > MaxTokenBytes || strings.Count(raw, ".") != 2 {
		return nil, errBadFormat
	}
	h, rest, _ := strings.Cut(raw, ".")
	p, sig, _ := strings.Cut(rest, ".")
	t := &token{raw: raw, payloadSeg: p}
	if err := t.parseHeader(h); err != nil {
		return nil, err
	}
	if err := t.parsePayload(p); err != nil {
		return nil, err
	}
	if _, err := b64.DecodeString(sig); err != nil {
		return nil, errSigBase64
	}
	return t, nil
}

func (t *token) parseHeader(seg string) *authnError {
	b, err := b64.DecodeString(seg)
	if err != nil {
		return errHeaderBase64
	}
	h, err := decodeObject(b)
	if err != nil {
		return errHeaderJSON
	}
	alg, ok := h["alg"].(string)
	if !ok {
		return errHeaderAlg
	}
	if algFamily(alg) == famNone {
		return errAlgNotImpl
	}
	t.alg = alg
	if kid, ok := h["kid"]; ok {
		if t.kid, ok = kid.(string); !ok {
			return errHeaderKid
		}
	}
	return nil
}

func (t *token) parsePayload(seg string) *authnError {
	b, err := b64.DecodeString(seg)
	if err != nil {
		return errPayloadBase64
	}
	c, err := decodeObject(b)
	if err != nil {
		return errPayloadJSON
	}
	t.claims = c
	var ok bool
	if t.iss, ok = optString(c, "iss"); !ok {
		return errIssType
	}
	if t.sub, ok = optString(c, "sub"); !ok {
		return errSubType
	}
	if _, ok = optString(c, "jti"); !ok {
		return errJtiType
	}
	t.azp, _ = optString(c, "azp")
	if t.aud, ok = audiences(c["aud"]); !ok {
		return errAudType
	}
	if err := numericClaim(c, "exp", &t.exp, &t.hasExp, errExpType, errExpRange); err != nil {
		return err
	}
	if err := numericClaim(c, "nbf", &t.nbf, &t.hasNbf, errNbfType, errNbfRange); err != nil {
		return err
	}
	return numericClaim(c, "iat", &t.iat, &t.hasIat, errIatType, errIatRange)
}

// optString returns an optional string claim; ok is false when the claim
// exists with another type.
func optString(c map[string]any, k string) (string, bool) {
	v, present := c[k]
	if !present {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

// audiences reads "aud", a string or a list of strings.
func audiences(v any) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// maxNumericDate bounds exp/nbf/iat so that adding the clock skew cannot
// overflow; it is far beyond any real date.
const maxNumericDate = 1 << 62

// numericClaim reads a NumericDate claim: a JSON number, truncated to
// whole seconds. A string ("9999999999"), a negative number or an
// overflowing one (1e300) is an error.
func numericClaim(c map[string]any, k string, out *int64, has *bool, typeErr, rangeErr *authnError) *authnError {
	v, present := c[k]
	if !present {
		return nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return typeErr
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 || f >= maxNumericDate {
		return rangeErr
	}
	*out, *has = int64(f), true
	return nil
}
