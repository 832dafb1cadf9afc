package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
)

// RSA key sizes gatehouse accepts: smaller keys are forgeable, larger ones
// make verification expensive enough to be a denial of service.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// family is the kind of key an algorithm needs.
type family uint8

const (
	famNone family = iota
	famRSA
	famP256
	famP384
	famP521
	famEd25519
	famHMAC
)

// algFamily returns the key family for a JWS algorithm, or famNone for an
// algorithm Envoy does not implement ("none" in any spelling included).
func algFamily(alg string) family {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return famRSA
	case "ES256":
		return famP256
	case "ES384":
		return famP384
	case "ES512":
		return famP521
	case "EdDSA":
		return famEd25519
	case "HS256", "HS384", "HS512":
		return famHMAC
	}
	return famNone
}

// methods returns the algorithms a key family may verify, for
// jwt.WithValidMethods.
func (f family) methods() []string {
	switch f {
	case famRSA:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case famP256:
		return []string{"ES256"}
	case famP384:
		return []string{"ES384"}
	case famP521:
		return []string{"ES512"}
	case famEd25519:
		return []string{"EdDSA"}
	case famHMAC:
		return []string{"HS256", "HS384", "HS512"}
	}
	return nil
}

// jwk is one usable verification key.
type jwk struct {
	kid    string
	alg    string // "" when the key does not restrict its algorithm
	fam    family
	key    any        // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
	parsed jwkset.JWK // the same key as jwkset holds it, for the keyfunc
}

// keySet is an immutable parsed JWKS.
type keySet struct {
	keys []jwk
	// kf looks keys up by kid for tokens that carry one (routeKID). It
	// reads a jwkset.MemoryStorage that holds exactly keys, in the same
	// order, and is never written after newKeySet: a refetch builds a
	// new keySet, so a request sees one set from routing to signature.
	kf keyfunc.Keyfunc
}

// sigUses is the keyfunc's "use" allowlist: the uses parseJWK accepts
// ("sig", or no use at all).
var sigUses = []jwkset.USE{jwkset.UseSig, ""}

// newKeySet wraps accepted keys, with a keyfunc over a memory storage
// holding them.
func newKeySet(keys []jwk) (*keySet, error) {
	store := jwkset.NewMemoryStorage()
	all := make([]jwkset.JWK, len(keys))
	for i := range keys {
		all[i] = keys[i].parsed
	}
	if err := store.KeyReplaceAll(context.Background(), all); err != nil {
		return nil, err
	}
	kf, err := keyfunc.New(keyfunc.Options{Storage: store, UseWhitelist: sigUses})
	if err != nil {
		return nil, err
	}
	return &keySet{keys: keys, kf: kf}, nil
}

// fits reports whether k may verify a token with alg (of family fam) and
// kid, following Envoy: a key with another kid is skipped (a key without
// kid matches any), a key with another alg is skipped, and the key type
// must fit the algorithm.
func (k *jwk) fits(alg, kid string, fam family) bool {
	return (kid == "" || k.kid == "" || k.kid == kid) && (k.alg == "" || k.alg == alg) && k.fam == fam
}

// route is how a token is verified against a key set.
type route uint8

const (
	// routeNone: no key fits the token's kid and alg (errKidAlg).
	routeNone route = iota
	// routeKID: exactly one key fits, and it is the first key carrying
	// the token's kid, which is the key the keyfunc's storage returns for
	// that kid. golang-jwt verifies through keyfunc.
	routeKID
	// routeScan: every candidate is tried (a token without kid, an
	// unknown kid that keys without kid may match, a kid shared by several
	// keys, or a known kid next to keys without kid of the same family).
	routeScan
)

// match decides the route for a token with alg and kid without
// allocating. kidKnown reports whether any key carries kid.
func (ks *keySet) match(alg, kid string) (r route, kidKnown bool) {
	fam := algFamily(alg)
	n, first, only := 0, -1, -1
	for i := range ks.keys {
		k := &ks.keys[i]
		if kid != "" && k.kid == kid {
			kidKnown = true
			if first < 0 {
				first = i
			}
		}
		if k.fits(alg, kid, fam) {
			n, only = n+1, i
		}
	}
	switch {
	case n == 0:
		return routeNone, kidKnown
	case n == 1 && only == first:
		return routeKID, kidKnown
	}
	return routeScan, kidKnown
}

// candidates returns the keys that may verify a token with alg and kid
// (see fits), in the set's order.
func (ks *keySet) candidates(alg, kid string) []any {
	fam := algFamily(alg)
	var keys []any
	for i := range ks.keys {
		if k := &ks.keys[i]; k.fits(alg, kid, fam) {
			keys = append(keys, k.key)
		}
	}
	return keys
}

// keyProblem is a key dropped from a set, with the reason.
type keyProblem struct {
	index  int
	kid    string
	reason string
}

// parseKeySet parses a JWKS document and keeps every usable key: one bad
// or unsupported key never drops the good ones (security.md JWT-05).
// Symmetric keys are only accepted from inline sets (symmetric true).
// private reports whether any key carried private material.
func parseKeySet(data []byte, symmetric bool) (ks *keySet, dropped []keyProblem, private bool, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, false, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	var keys []jwk
	for i, raw := range doc.Keys {
		k, priv, err := parseJWK(raw, symmetric)
		private = private || priv
		if err != nil {
			dropped = append(dropped, keyProblem{index: i, kid: k.kid, reason: err.Error()})
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, dropped, private, errors.New("the key set has no usable signature keys")
	}
	if ks, err = newKeySet(keys); err != nil {
		return nil, dropped, private, err
	}
	return ks, dropped, private, nil
}

// keyMeta is the part of a JWK read before handing it to jwkset.
type keyMeta struct {
	KTY string `json:"kty"`
	KID string `json:"kid"`
	ALG string `json:"alg"`
	USE string `json:"use"`
	D   string `json:"d"`
}

// parseJWK converts one JWK. The returned jwk carries kid even on error.
func parseJWK(raw json.RawMessage, symmetric bool) (jwk, bool, error) {
	var m keyMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return jwk{}, false, fmt.Errorf("malformed key: %w", err)
	}
	out := jwk{kid: m.KID, alg: m.ALG}
	private := m.D != ""
	switch {
	case m.USE != "" && m.USE != "sig":
		return out, private, fmt.Errorf("key use %q is not \"sig\"", m.USE)
	case m.KTY == "oct" && !symmetric:
		return out, private, errors.New("symmetric (kty oct) keys are refused from a remote key set")
	case m.ALG != "" && algFamily(m.ALG) == famNone:
		return out, private, fmt.Errorf("unsupported key alg %q", m.ALG)
	}
	parsed, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{Private: m.KTY == "oct"}, jwkset.JWKValidateOptions{})
	if err != nil {
		return out, private, fmt.Errorf("unsupported or invalid key (kty %q): %w", m.KTY, err)
	}
	out.parsed = parsed
	out.key, out.fam, err = publicKey(parsed.Key())
	if err == nil && out.alg != "" && algFamily(out.alg) != out.fam {
		err = fmt.Errorf("key alg %q does not fit its key type %q", out.alg, m.KTY)
	}
	return out, private || m.KTY == "oct", err
}

// publicKey checks a parsed key and returns it with its family.
func publicKey(k any) (any, family, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return nil, famNone, fmt.Errorf("RSA key of %d bits: only %d to %d bits are accepted", n, minRSABits, maxRSABits)
		}
		return k, famRSA, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return k, famP256, nil
		case elliptic.P384():
			return k, famP384, nil
		case elliptic.P521():
			return k, famP521, nil
		}
	case ed25519.PublicKey:
		return k, famEd25519, nil
	case []byte:
		if len(k) == 0 {
			return nil, famNone, errors.New("empty symmetric key")
		}
		return k, famHMAC, nil
	}
	return nil, famNone, fmt.Errorf("unsupported key type %T", k)
}

// describe summarises dropped keys for a log line or a warning.
func describe(ps []keyProblem) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "keys[%d] (kid %s): %s", p.index, logSafe(p.kid), p.reason)
	}
	return b.String()
}
