// Package authz compiles Istio's security resources into an immutable
// *Engine that authenticates requests (JWT) and authorizes them
// (allow/deny), the way an Istio ingress gateway's Envoy does.
//
// # Resources and compilation
//
// Each resource is compiled on its own, like router.CompileVirtualService,
// into an immutable value; every problem comes back as an *api.FieldError
// with a YAML path from the resource root ("spec.jwtRules[0].jwksUri"),
// warnings wrapped with api.Warning:
//
//	CompileRequestAuthentication(meta, *RequestAuthentication) (*Authn, []error)
//	CompileAuthorizationPolicy(meta, *AuthorizationPolicy)     (*Policy, []error)
//	CompileLegacyPolicy(meta, *LegacyPolicy, meshWide)         (*LegacyAuthn, []error)
//	CompileRBAC(*RbacConfig, roles, bindings)                  (*RBAC, []error)
//
// CompileRBAC takes every rbac.istio.io resource of a load at once (a
// binding needs its role); its errors are *ResourceError values naming
// the resource, wrapping the *api.FieldError. Compilation is pure: no I/O.
//
// NewEngine(Options, Config) keeps the compiled resources that apply to
// this gateway and registers remote key sets with a shared *KeySets, which
// fetches them in the background and outlives engines across reloads.
//
// # Request path
//
//	id, rej := engine.Authenticate(ctx, req) // rej != nil: send rej (401/403)
//	                                         // else forward req.Header, req.RawQuery
//	route := table.Match(...)                // match, but do not act yet
//	req.Destination = route's service FQDN   // "" when no route matched
//	d := engine.Authorize(req, id)           // !d.Allowed: d.Write(w) (403, or 401)
//	... then 404, redirect or proxy ...
//
// Only legacy Policy and RBAC scoping read Destination, so matching the
// route before Authorize keeps Istio's order (401, then 403, then 404).
// A nil *Engine, or one without policies, allows everything cheaply.
// Authorize allocates nothing. Explain runs both steps on a copy of a
// request and returns a rule-by-rule Trace.
//
// One *KeySets lives as long as the process: pass it in every Options,
// call Retain with the live engines' KeySetURIs after each reload, show
// Status on the admin page, and Close it at shutdown.
//
// # Choices where Istio leaves room (or where gatehouse is stricter)
//
//   - Scope. Selectors match Options.Labels; with nil Labels (the usual
//     standalone gateway) every selector matches. Policies of every
//     namespace apply, since gatehouse is the only workload; set
//     Options.NamespaceScoped for Istio's namespace + root namespace rule.
//     targetRef(s) are treated like an empty selector, with a warning.
//   - Token locations. The default "Authorization: Bearer " prefix matches
//     the scheme case-insensitively (RFC 7235), so "bearer <bad token>" is
//     a 401 rather than an anonymous request as in Envoy. Other prefixes
//     are searched anywhere in the value, case-sensitively, as Envoy does.
//     A header without its prefix carries no token ("Authorization: Basic",
//     and "Bearer" with nothing after it, are anonymous). Junk after the
//     token ("Bearer <t> extra") is a 401 where Envoy ignores it; a
//     repeated header is read as Envoy joins it, so a field line after the
//     token's line is junk too.
//   - Token checks, in Envoy's order: parse (a token over MaxTokenBytes is
//     rejected unparsed; duplicate JSON keys and deep nesting are parse
//     errors), issuer (the provider is chosen by exact iss), time with
//     ClockSkew, audience (403), then key and signature through golang-jwt
//     (see Key selection).
//     Stricter than Envoy and Istio: a token without exp is a 401 ("Jwt
//     payload has no [exp] field"; security.md JWT-06), "exp": 0 is expired
//     (Envoy treats 0 as absent), and an iat more than ClockSkew in the
//     future is "Jwt not yet valid". Audiences compare as
//     jwt_verify_lib does, ignoring an http(s):// prefix and a trailing /;
//     a missing or empty aud with audiences configured is 403.
//   - Verified tokens are cached per engine (16×64 entries, as Envoy's
//     jwt_cache_config): a repeated token skips parsing and the signature
//     check, but its times and audiences are checked on every request,
//     and its signature is trusted only for the rule and the exact key
//     set that verified it, so a key set refresh verifies it again.
//     Tokens that fail are never cached.
//   - One token per request. Envoy verifies every token it finds and
//     Istio leaves the principal of a request with several undefined;
//     gatehouse rejects a request that carries more than one with 401
//     BodyJwtNotUnique ("Jwt is not unique"), before verifying any, so
//     that policy, claims, output headers and the principal all come from
//     one token, computed once. Tokens are counted over every distinct
//     location of every RequestAuthentication rule and legacy origin: each
//     value of a query parameter (an empty one too, and names compare
//     percent-decoded), each cookie occurrence, each field line of a
//     header without a prefix, and each occurrence of the prefix in each
//     field line of a header with one ("Bearer a, Bearer b" is two; the
//     token after an occurrence is skipped before looking for the next).
//     Two identical tokens are two. "bearer " and "Bearer " in
//     Authorization are one location; a header configured both with and
//     without a prefix is two, so a token there counts twice.
//   - Keys only come from configuration: jwk, jku, x5u and x5c token
//     headers are never used. Remote sets refuse symmetric keys, RSA keys
//     outside 2048-8192 bits and keys with use other than sig; one bad key
//     never drops the good ones. Inline jwks may hold HMAC keys (Envoy
//     supports them), with a warning.
//   - Key sets. Fetching, refreshing and caching are KeySets' own, not
//     keyfunc's HTTP storage, because that storage reads unbounded bodies,
//     hides the first failure, drops a whole set for one bad key and
//     blocks requests while refetching. Here a fetch is bounded by the
//     rule's timeout and KeySetOptions.MaxBody, the last good set survives
//     failures, a token with an unknown kid triggers at most one
//     background refetch per MinRefetch and is rejected at once, and
//     Authenticate only ever waits for a first fetch already in flight.
//     Until a set has loaded its tokens get 401 "Jwks remote fetch is
//     failed"; requests without a token still pass. jwkset converts each
//     JWK. Every loaded set, fetched or inline, keeps its accepted JWKs in
//     a jwkset.MemoryStorage with a keyfunc.Keyfunc over it; a refetch
//     builds a new set and storage rather than editing the one in use.
//   - Key selection. A key fits a token when its kid is absent or the
//     token's, its alg is absent or the token's, and its type is the one
//     the token's alg needs (Envoy's rules, so an HMAC token never meets a
//     public key). No fitting key: 401 "Jwks doesn't have key to match kid
//     or alg from Jwt". When the token has a kid and its only fitting key
//     is the first key carrying that kid, golang-jwt gets the keyfunc's
//     KeyfuncCtx: keyfunc reads the key for the kid from the storage and
//     checks again that the JWK's alg, if any, is the token's and its use
//     is "sig" or absent, and golang-jwt checks the key type against the
//     method; any failure there is "Jwt verification fails". Every other
//     token tries each fitting key in set order, as Envoy does: one
//     without a kid (keyfunc needs a kid; Envoy does not), and one whose
//     kid several keys carry or that keys without a kid also fit. Both
//     routes parse with the same golang-jwt options: the methods of the
//     alg's key family, ClockSkew leeway, iat, the issuer if the rule has
//     one, strict base64 and jwt.RegisteredClaims. A kid that no key
//     carries triggers the rate-limited refetch, whether a key without a
//     kid then verifies the token or it is rejected.
//   - Output headers. Client copies of outputPayloadToHeader and
//     outputClaimToHeaders headers are always removed first. A string claim
//     holding control characters is not copied.
//   - Tokens in the query. Envoy removes a verified token's header but
//     never its query parameter (a TODO in jwt_authn), so the token
//     reaches the upstream and its access logs. Unless the rule sets
//     forwardOriginalToken, Authenticate removes the parameter from
//     Request.RawQuery, keeping every other parameter byte for byte and
//     in order; the gateway forwards that query. Cookies are kept, as
//     Envoy keeps them. Engine.RedactQuery replaces the value of every
//     token parameter of the engine (verified or not) with Redacted, for
//     the access log and any other line that shows a query.
//   - Path templates follow Envoy's uri_template, which Istio uses: so
//     "/foo/{**}/" matches "/foo/bar/" but not "/foo/bar/baz.txt", although
//     the proto comment says it does.
//   - Hosts: one normal form. Istio compares hosts and notHosts with the
//     raw :authority, port included, ignoring case, so a DENY on
//     admin.example.com misses "admin.example.com:8443" and
//     "admin.example.com." while routing, which ignores the port, still
//     serves the admin virtual host. gatehouse deliberately differs:
//     Request.Host is the host the gateway routes on (ASCII lower case,
//     no port, no trailing dot) and Request.Port the Gateway port the
//     request arrived on. Each value is compiled once into a host pattern
//     (ASCII lower-cased, trailing dot removed; exact, "*", "prefix*" or
//     "*suffix", compared exactly) and an optional port:
//     "admin.example.com" and "admin.example.com:*" match any port (so a
//     DENY fails closed), "admin.example.com:8443" only Port 8443, and
//     IPv6 literals keep their brackets ("[::1]:8080"). A port part that
//     is not "*" or 1-65535, an IPv6 address without brackets, or a value
//     with no host name is a configuration error. The same holds for
//     legacy ServiceRole hosts and notHosts and for request.headers[host]
//     and [:authority] conditions. The realm of www-authenticate is
//     scheme://host/path from the normalized host, without a port.
//   - Header conditions check each value and each comma-separated element
//     of a value, trimmed (security.md AZ-11). request.headers[host] and
//     [:authority] (see Hosts), [:method], [:path] (no query), [:scheme]
//     read the request, since Go keeps them out of http.Header.
//   - Peer identity fields (principals, namespaces, ...) match against
//     Request.PeerPrincipal; without mTLS they never match positively.
//     experimental.envoy.filters.* keys compile (with a warning) and never
//     match: gatehouse has no Envoy dynamic metadata.
//   - Legacy Policy: Authenticate verifies origin tokens without
//     rejecting (a request with several tokens is still rejected, see One
//     token per request); Authorize picks the Policy for Request.Destination (one
//     that targets the service, else the namespace's, else the MeshPolicy)
//     and answers 401 "Origin authentication failed." when an enforced
//     origin has no verified token. Target ports and labels are ignored
//     with a warning; peers are not enforced. USE_ORIGIN makes the origin
//     the request principal; otherwise an origin token only supplies
//     request.auth claims when no RequestAuthentication token did.
//   - Legacy RBAC: a covered destination (RbacConfig) gets deny-by-default
//     unless a binding's rule allows it; ServiceRole services match the
//     destination FQDN within the role's namespace; constraints on
//     destination.labels/user never match (fail closed, warned); ports are
//     the gateway's listener port. PERMISSIVE bindings or enforcementMode
//     are dry-run.
//
// # Errors and logs
//
// Client-facing text is Envoy's (BodyRBACDenied, the jwt_authn status
// strings; BodyJwtNotUnique is gatehouse's, in their style); tokens are
// never logged (queries go through RedactQuery), and attacker-chosen
// values such as a kid are quoted and truncated in logs and explanations.
package authz
