package authz

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// KeySetOptions configure a KeySets. Zero values are the documented
// defaults.
type KeySetOptions struct {
	// Client fetches key sets; nil means a client of gatehouse's own that
	// follows at most 3 redirects. Its Timeout, if any, applies on top of
	// the per-rule fetch timeout.
	Client *http.Client
	// Logger receives fetch failures and dropped keys; nil discards.
	Logger *slog.Logger
	// RefreshInterval is how often a loaded key set is refetched: 20m, as
	// istiod (PILOT_JWT_PUB_KEY_REFRESH_INTERVAL).
	RefreshInterval time.Duration
	// RetryInterval is the first retry delay after a failed fetch; it
	// doubles up to MaxRetryInterval. Default 1s.
	RetryInterval time.Duration
	// MaxRetryInterval caps the retry delay: 1m, as istiod.
	MaxRetryInterval time.Duration
	// MinRefetch is the least time between two refetches triggered by
	// tokens with an unknown kid (a token bucket of one): 5m, keyfunc's
	// default. A rotated key is still found by the periodic refresh.
	MinRefetch time.Duration
	// MaxBody caps a key set or discovery document: 1 MiB.
	MaxBody int64
	// Now is the clock for status times and the refetch limiter.
	Now func() time.Time
}

func (o *KeySetOptions) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.RefreshInterval, 20*time.Minute)
	def(&o.RetryInterval, time.Second)
	def(&o.MaxRetryInterval, time.Minute)
	def(&o.MinRefetch, 5*time.Minute)
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return nil
		}}
	}
}

// KeySets owns one background fetcher per remote key set URI and shares
// them across configuration reloads. Fetchers start when an engine first
// uses their URI and never block compiling, reloading or start-up; until
// a set has loaded, tokens needing it are rejected (fail closed, with no
// fallback key). It is safe for concurrent use.
type KeySets struct {
	opts     KeySetOptions
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	fetchers map[string]*fetcher
	closed   bool
}

// NewKeySets returns an empty KeySets. Its fetchers stop when ctx ends or
// Close is called.
func NewKeySets(ctx context.Context, opts KeySetOptions) *KeySets {
	opts.defaults()
	k := &KeySets{opts: opts, fetchers: map[string]*fetcher{}}
	k.ctx, k.cancel = context.WithCancel(ctx)
	return k
}

// source returns the fetcher for uri, starting it on first use. A later
// rule's timeout replaces the earlier one.
func (k *KeySets) source(uri string, discovery bool, timeout time.Duration) keySource {
	k.mu.Lock()
	defer k.mu.Unlock()
	if f, ok := k.fetchers[uri]; ok {
		f.timeout.Store(int64(timeout))
		return f
	}
	f := newFetcher(k, uri, discovery, timeout)
	if k.closed {
		close(f.first)
		return f
	}
	ctx, cancel := context.WithCancel(k.ctx)
	f.cancel = cancel
	k.fetchers[uri] = f
	k.wg.Add(1)
	go f.run(ctx)
	return f
}

// Retain stops the fetchers of URIs not in uris. Call it after every
// reload attempt (a rejected candidate engine may have started fetchers)
// with the KeySetURIs of the engines still in use.
func (k *KeySets) Retain(uris []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for uri, f := range k.fetchers {
		if !slices.Contains(uris, uri) {
			f.cancel()
			delete(k.fetchers, uri)
		}
	}
}

// Close stops every fetcher and waits for them to return.
func (k *KeySets) Close() {
	k.mu.Lock()
	k.closed = true
	k.fetchers = map[string]*fetcher{}
	k.mu.Unlock()
	k.cancel()
	k.wg.Wait()
}

// KeySetStatus describes one remote key set, for readiness and the admin
// page.
type KeySetStatus struct {
	// URI is the jwksUri, or the OpenID discovery document's URL.
	URI string
	// Discovery is set when the key set is found through discovery.
	Discovery bool
	// Ready is set once a key set has loaded; tokens are rejected before.
	Ready bool
	// Keys is the number of usable keys in the current set.
	Keys int
	// Fetches counts fetch attempts.
	Fetches int
	// LastAttempt and LastSuccess are the times of the latest fetch
	// attempt and of the latest successful one.
	LastAttempt, LastSuccess time.Time
	// LastError is the latest attempt's error, "" if it succeeded.
	LastError string
}

// Status returns the state of every key set, sorted by URI.
func (k *KeySets) Status() []KeySetStatus {
	k.mu.Lock()
	fs := make([]*fetcher, 0, len(k.fetchers))
	for _, f := range k.fetchers {
		fs = append(fs, f)
	}
	k.mu.Unlock()
	out := make([]KeySetStatus, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.snapshot())
	}
	slices.SortFunc(out, func(a, b KeySetStatus) int { return strings.Compare(a.URI, b.URI) })
	return out
}
