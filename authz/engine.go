package authz

import (
	"cmp"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"time"
)

// Request is what authentication and authorization look at. The gateway
// fills it once per request (or per TCP connection).
type Request struct {
	Method, Scheme string
	// Host is the normalized host the gateway routes on: the :authority
	// (or Host header) with ASCII letters lower-cased, without the port
	// and without a trailing dot ("admin.example.com", "[::1]"). hosts,
	// notHosts and request.headers[host] / [:authority] compare it
	// exactly, and the realm of www-authenticate is built from it.
	Host string
	// Port is the Gateway port the request arrived on, which a hosts
	// value with a port ("admin.example.com:8443") must equal; 0 when
	// unknown, which no such value matches.
	Port uint16
	// Path is the normalized path without the query.
	Path string
	// RawQuery is the query as received, without "?". Authenticate
	// removes a verified token's parameter from it (see Authenticate), so
	// after Authenticate it is the query to forward upstream. Log it
	// through Engine.RedactQuery.
	RawQuery string
	// Header holds the inbound headers with canonical keys, as net/http
	// produces them. Authenticate edits it in place: the gateway forwards
	// this map upstream.
	Header http.Header
	// SourceIP is the physical peer: source.ip and ipBlocks.
	SourceIP netip.Addr
	// RemoteIP is the trusted original client: remote.ip and
	// remoteIpBlocks.
	RemoteIP netip.Addr
	// Local is the address the request arrived on: destination.ip,
	// destination.port and ports.
	Local netip.AddrPort
	// SNI is the TLS server name: connection.sni.
	SNI string
	// PeerPrincipal is the client certificate identity
	// ("cluster.local/ns/x/sa/y", a SPIFFE ID without "spiffe://"), or ""
	// without mTLS.
	PeerPrincipal string
	// Destination is the FQDN of the routed service
	// ("reviews.default.svc.cluster.local"), "" when unrouted. Only legacy
	// Policy and RBAC scoping use it.
	Destination string
	// TCP marks a raw TCP connection: ALLOW rules with HTTP-only fields
	// are dropped and DENY rules ignore those fields.
	TCP bool
}

// Options configure an Engine. The zero value is a standalone gateway
// without labels that applies every policy of every namespace.
type Options struct {
	// Namespace is the gateway's own namespace.
	Namespace string
	// Labels are the gateway's workload labels. When nil every selector
	// matches, since a standalone gateway usually has no labels.
	Labels map[string]string
	// RootNamespace is Istio's root namespace; "istio-system" if empty.
	RootNamespace string
	// NamespaceScoped applies only policies in Namespace and
	// RootNamespace, as Istio scopes them to a workload. By default every
	// namespace applies: gatehouse is the only workload.
	NamespaceScoped bool
	// KeySets fetches remote key sets. If nil, rules with a jwksUri (or
	// OpenID discovery) reject every token with 401.
	KeySets *KeySets
	// Logger receives debug lines about rejected tokens; nil discards.
	Logger *slog.Logger
	// Now is the clock for token times; nil means time.Now.
	Now func() time.Time
}

// Config is the compiled configuration of one load.
type Config struct {
	RequestAuthentications []*Authn
	AuthorizationPolicies  []*Policy
	LegacyPolicies         []*LegacyAuthn
	RBAC                   *RBAC
}

// Engine authenticates and authorizes requests against one configuration.
// It is immutable after NewEngine and safe for concurrent use. A nil
// *Engine allows everything.
type Engine struct {
	log *slog.Logger
	now func() time.Time

	tokens     *tokenCache   // tokens that verified, nil without providers
	locs       []locGroup    // each token location with its providers
	origins    []*provider   // legacy origins by id
	outputs    []string      // headers Authenticate sets, removed first
	params     []string      // query parameters tokens are read from
	legacy     []legacyEntry // applicable legacy Policies
	keyURIs    []string
	deny       []*Policy
	allow      []*Policy
	audit      []*Policy
	shadowDeny []*Policy
	shadowAlw  []*Policy
	rbac       *RBAC
	rbacOn     []*Policy // enforced bindings
	rbacShadow []*Policy // PERMISSIVE bindings
	authz      bool      // any authorization work at all
}

// locGroup is a distinct token location and the providers reading it.
type locGroup struct {
	loc    location
	ra     []*provider // RequestAuthentication rules, sorted by issuer
	legacy []*provider // legacy origins
}

// legacyEntry is a legacy Policy with its origins' provider ids.
type legacyEntry struct {
	pol     *LegacyAuthn
	origins []int
}

// NewEngine builds an engine from compiled resources, keeping those whose
// selector and namespace apply to this gateway (see Options). Remote key
// sets are registered with opts.KeySets and fetched in the background;
// NewEngine never waits for them.
func NewEngine(opts Options, cfg Config) *Engine {
	if opts.RootNamespace == "" {
		opts.RootNamespace = "istio-system"
	}
	e := &Engine{log: opts.Logger, now: opts.Now, rbac: cfg.RBAC}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	var ra []*provider
	for _, a := range cfg.RequestAuthentications {
		if a != nil && opts.applies(a.scope) {
			for _, r := range a.rules {
				ra = append(ra, e.provider(opts, r, -1))
			}
		}
	}
	slices.SortStableFunc(ra, func(a, b *provider) int { return cmp.Compare(a.rule.issuer, b.rule.issuer) })
	e.addLegacy(opts, cfg.LegacyPolicies)
	e.group(ra)
	e.indexParams()
	e.addPolicies(opts, cfg)
	if len(e.locs) > 0 {
		e.tokens = newTokenCache()
	}
	return e
}

// applies reports whether a policy's selector and namespace select this
// gateway.
func (o *Options) applies(s scope) bool {
	if o.NamespaceScoped && s.namespace != o.Namespace && s.namespace != o.RootNamespace {
		return false
	}
	if o.Labels == nil {
		return true
	}
	for k, v := range s.selector {
		if got, ok := o.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// provider binds a rule to its key source.
func (e *Engine) provider(opts Options, r *jwtRule, origin int) *provider {
	p := &provider{rule: r, origin: origin, src: noKeys{}}
	switch {
	case r.inline != nil:
		p.src = staticKeys{r.inline}
	case r.jwksURI != "" && opts.KeySets != nil:
		p.src = opts.KeySets.source(r.jwksURI, r.discovery, r.timeout)
		if !slices.Contains(e.keyURIs, r.jwksURI) {
			e.keyURIs = append(e.keyURIs, r.jwksURI)
		}
	}
	return p
}

func (e *Engine) addLegacy(opts Options, ls []*LegacyAuthn) {
	// Legacy Policies are scoped by destination, not by workload, so every
	// one is kept; sorting makes ties between equally specific ones stable.
	ls = slices.DeleteFunc(slices.Clone(ls), func(l *LegacyAuthn) bool { return l == nil })
	slices.SortStableFunc(ls, func(a, b *LegacyAuthn) int { return cmp.Compare(a.Key, b.Key) })
	for _, l := range ls {
		ent := legacyEntry{pol: l}
		for _, o := range l.origins {
			ent.origins = append(ent.origins, len(e.origins))
			e.origins = append(e.origins, e.provider(opts, o.rule, len(e.origins)))
		}
		e.legacy = append(e.legacy, ent)
	}
}

// group indexes providers by location, RequestAuthentication rules first.
func (e *Engine) group(ra []*provider) {
	find := func(l location) *locGroup {
		for i := range e.locs {
			if e.locs[i].loc == l {
				return &e.locs[i]
			}
		}
		e.locs = append(e.locs, locGroup{loc: l})
		return &e.locs[len(e.locs)-1]
	}
	for _, p := range ra {
		for _, l := range p.rule.locations {
			g := find(l)
			g.ra = append(g.ra, p)
		}
		e.addOutput(p.rule.payloadHeader)
		for _, ch := range p.rule.claimHeaders {
			e.addOutput(ch.header)
		}
	}
	for _, p := range e.origins {
		for _, l := range p.rule.locations {
			g := find(l)
			g.legacy = append(g.legacy, p)
		}
	}
}

func (e *Engine) addOutput(h string) {
	if h != "" && !slices.Contains(e.outputs, h) {
		e.outputs = append(e.outputs, h)
	}
}

// addPolicies sorts the applicable policies by action and enforcement.
func (e *Engine) addPolicies(opts Options, cfg Config) {
	for _, p := range cfg.AuthorizationPolicies {
		if p == nil || !opts.applies(p.scope) {
			continue
		}
		switch {
		case p.Action == ActionAudit:
			e.audit = append(e.audit, p)
		case p.Action == ActionDeny && p.DryRun:
			e.shadowDeny = append(e.shadowDeny, p)
		case p.Action == ActionDeny:
			e.deny = append(e.deny, p)
		case p.Action == ActionAllow && p.DryRun:
			e.shadowAlw = append(e.shadowAlw, p)
		case p.Action == ActionAllow:
			e.allow = append(e.allow, p)
		}
	}
	if e.rbac != nil && e.rbac.mode != "OFF" {
		for _, b := range e.rbac.bindings {
			if b.DryRun {
				e.rbacShadow = append(e.rbacShadow, b)
			} else {
				e.rbacOn = append(e.rbacOn, b)
			}
		}
	} else {
		e.rbac = nil
	}
	e.authz = len(e.deny)+len(e.allow)+len(e.audit)+len(e.shadowDeny)+len(e.shadowAlw)+len(e.legacy) > 0 || e.rbac != nil
}

// KeySetURIs returns the remote key set URIs the engine uses, for
// KeySets.Retain after a reload.
func (e *Engine) KeySetURIs() []string {
	if e == nil {
		return nil
	}
	return slices.Clone(e.keyURIs)
}

// SanitizeHeaders removes every header Authenticate may set
// (outputPayloadToHeader, outputClaimToHeaders), so that a client can
// never supply them. Authenticate calls it first.
func (e *Engine) SanitizeHeaders(h http.Header) {
	if e == nil {
		return
	}
	for _, name := range e.outputs {
		delete(h, name)
	}
}
