package authz

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// keySource supplies the current key set of one provider.
type keySource interface {
	// keys returns the set, waiting (within ctx) only for a first fetch
	// already in flight. It fails while no set was ever loaded.
	keys(ctx context.Context) (*keySet, error)
	// unknownKID asks for an early refetch, at a bounded rate.
	unknownKID()
}

// staticKeys is an inline jwks.
type staticKeys struct{ ks *keySet }

func (s staticKeys) keys(context.Context) (*keySet, error) { return s.ks, nil }
func (staticKeys) unknownKID()                             {}

// noKeys fails closed: a remote key set without a KeySets to fetch it.
type noKeys struct{}

var errNoKeySets = errors.New("no KeySets configured: remote key sets are never fetched")

func (noKeys) keys(context.Context) (*keySet, error) { return nil, errNoKeySets }
func (noKeys) unknownKID()                           {}

// provider is a JWT rule bound to its key source by NewEngine.
type provider struct {
	rule   *jwtRule
	src    keySource
	origin int // index into Identity.origins; -1 for RequestAuthentication
}

// verify checks a parsed token against the provider after the issuer was
// matched, in Envoy's order: time, audience, then key and signature.
func (p *provider) verify(ctx context.Context, t *token, now func() time.Time) *authnError {
	if err := t.checkTime(now()); err != nil {
		return err
	}
	if !t.audienceAllowed(p.rule.audiences) {
		return errAudience
	}
	ks, err := p.src.keys(ctx)
	if err != nil {
		return errFetch
	}
	if t.verified.provedBy(p, ks) {
		return nil
	}
	if err := p.verifySignature(ctx, t, ks, now); err != nil {
		return err
	}
	t.verified.prove(p, ks)
	return nil
}

// verifySignature finds the token's key in ks and checks the signature.
func (p *provider) verifySignature(ctx context.Context, t *token, ks *keySet, now func() time.Time) *authnError {
	r, kidKnown := ks.match(t.alg, t.kid)
	if t.kid != "" && !kidKnown {
		p.src.unknownKID()
	}
	switch r {
	case routeNone:
		return errKidAlg
	case routeKID:
		return t.verifyKID(ctx, ks, p.rule.issuer, now)
	}
	return t.verifySignature(ks.candidates(t.alg, t.kid), p.rule.issuer, now)
}

// verifyKID verifies a token whose kid names exactly one fitting key
// (routeKID) through keyfunc: it reads the key for the kid from the set's
// memory storage and checks, on top of what match already checked, that
// the key's alg (if any) is the token's and its use is "sig" or absent;
// golang-jwt then checks that the key's type fits the method. Any of
// these failing is errVerification, as a wrong signature is.
func (t *token) verifyKID(ctx context.Context, ks *keySet, issuer string, now func() time.Time) *authnError {
	return t.parse(issuer, now, ks.kf.KeyfuncCtx(ctx))
}

// verifySignature tries each of keys, which all belong to the family of
// the token's alg (see candidates), until one verifies.
func (t *token) verifySignature(keys []any, issuer string, now func() time.Time) *authnError {
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k
	}
	return t.parse(issuer, now, func(*jwt.Token) (any, error) { return set, nil })
}

// parse verifies the signature with golang-jwt and the key(s) from kf.
// The method allowlist is the family of the token's alg, so an HS256
// token is never checked against a public key and "none" never against
// anything. The claims are parsed into jwt.RegisteredClaims (not
// MapClaims) and golang-jwt re-validates exp, nbf, iat and iss as a
// second line of defence.
func (t *token) parse(issuer string, now func() time.Time, kf jwt.Keyfunc) *authnError {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algFamily(t.alg).methods()),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(now),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding(),
	}
	if issuer != "" {
		opts = append(opts, jwt.WithIssuer(issuer))
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.NewParser(opts...).ParseWithClaims(t.raw, &claims, kf)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrTokenExpired):
		return errExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errNotYetValid
	}
	return errVerification
}

// checkTime applies exp and nbf with the clock skew, before the signature
// as Envoy does, with golang-jwt's bounds (a token is expired from
// exp+skew on), so that a cached token and a freshly verified one get the
// same answer. Stricter than Envoy and Istio: a token without exp is
// refused (security.md JWT-06: a token must not live forever), "exp": 0 is
// an expired token rather than a missing claim (the golang-jwt exp=0 bug
// class), and an iat in the future beyond the skew is not yet valid.
func (t *token) checkTime(now time.Time) *authnError {
	s, skew := now.Unix(), int64(ClockSkew/time.Second)
	switch {
	case !t.hasExp:
		return errNoExp
	case s >= t.exp+skew:
		return errExpired
	case t.hasNbf && s+skew < t.nbf, t.hasIat && s+skew < t.iat:
		return errNotYetValid
	}
	return nil
}

// audienceAllowed reports whether one of the token's audiences is in
// allowed, comparing as jwt_verify_lib's CheckAudience does: an
// "http://" or "https://" prefix and a trailing "/" are ignored. An empty
// allowed list accepts every token.
func (t *token) audienceAllowed(allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, a := range t.aud {
		a = sanitizeAudience(a)
		for _, b := range allowed {
			if a == sanitizeAudience(b) {
				return true
			}
		}
	}
	return false
}

func sanitizeAudience(a string) string {
	if s, ok := strings.CutPrefix(a, "http://"); ok {
		a = s
	} else if s, ok := strings.CutPrefix(a, "https://"); ok {
		a = s
	}
	return strings.TrimSuffix(a, "/")
}
