package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

var errNotLoaded = errors.New("the key set has not been fetched yet")

// fetcher keeps one remote key set fresh.
type fetcher struct {
	k         *KeySets
	uri       string
	discovery bool
	timeout   atomic.Int64 // time.Duration
	set       atomic.Pointer[keySet]
	first     chan struct{} // closed once the first attempt has ended
	kick      chan struct{} // an early refetch request
	limiter   *rate.Limiter // bounds unknown-kid refetches
	cancel    context.CancelFunc

	mu     sync.Mutex
	status KeySetStatus
}

func newFetcher(k *KeySets, uri string, discovery bool, timeout time.Duration) *fetcher {
	f := &fetcher{
		k: k, uri: uri, discovery: discovery,
		first:   make(chan struct{}),
		kick:    make(chan struct{}, 1),
		limiter: rate.NewLimiter(rate.Every(k.opts.MinRefetch), 1),
		status:  KeySetStatus{URI: uri, Discovery: discovery},
	}
	f.timeout.Store(int64(timeout))
	return f
}

// keys returns the current set. Before any set has loaded it waits for
// the first attempt (bounded by its timeout and by ctx), then fails.
func (f *fetcher) keys(ctx context.Context) (*keySet, error) {
	if ks := f.set.Load(); ks != nil {
		return ks, nil
	}
	select {
	case <-f.first:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if ks := f.set.Load(); ks != nil {
		return ks, nil
	}
	return nil, errNotLoaded
}

// unknownKID requests an early refetch if the limiter allows one.
func (f *fetcher) unknownKID() {
	if !f.limiter.AllowN(f.k.opts.Now(), 1) {
		return
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// run fetches, then waits for the refresh interval (or the retry delay
// after a failure, or a kick) until ctx ends.
func (f *fetcher) run(ctx context.Context) {
	defer f.k.wg.Done()
	var once sync.Once
	defer once.Do(func() { close(f.first) })
	retry := f.k.opts.RetryInterval
	for {
		wait := f.k.opts.RefreshInterval
		if err := f.fetch(ctx); err != nil {
			wait, retry = retry, min(retry*2, f.k.opts.MaxRetryInterval)
		} else {
			retry = f.k.opts.RetryInterval
		}
		once.Do(func() { close(f.first) })
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-f.kick:
			t.Stop()
		}
	}
}

// fetch loads the key set once. A failure keeps the previous set.
func (f *fetcher) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(f.timeout.Load()))
	defer cancel()
	ks, n, err := f.load(ctx)
	now := f.k.opts.Now()
	f.mu.Lock()
	f.status.Fetches++
	f.status.LastAttempt = now
	f.status.LastError = ""
	if err != nil {
		f.status.LastError = err.Error()
	} else {
		f.status.LastSuccess, f.status.Ready, f.status.Keys = now, true, len(ks.keys)
	}
	f.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil || errors.Is(err, context.DeadlineExceeded) {
			f.k.opts.Logger.Warn("jwks fetch failed; keeping the previous keys", "uri", f.uri, "error", err)
		}
		return err
	}
	if n != "" {
		f.k.opts.Logger.Warn("jwks keys dropped", "uri", f.uri, "dropped", n)
	}
	f.set.Store(ks)
	return nil
}

// load fetches (after discovery, if needed) and parses the set. dropped
// describes keys that were not usable.
func (f *fetcher) load(ctx context.Context) (ks *keySet, dropped string, err error) {
	uri := f.uri
	if f.discovery {
		if uri, err = f.discover(ctx); err != nil {
			return nil, "", err
		}
	}
	body, err := f.get(ctx, uri)
	if err != nil {
		return nil, "", err
	}
	ks, bad, _, err := parseKeySet(body, false)
	if len(bad) > 0 {
		dropped = describe(bad)
	}
	if err != nil {
		return nil, dropped, fmt.Errorf("%s: %w (%s)", uri, err, dropped)
	}
	return ks, dropped, nil
}

// discover reads jwks_uri from the OpenID configuration document.
func (f *fetcher) discover(ctx context.Context) (string, error) {
	body, err := f.get(ctx, f.uri)
	if err != nil {
		return "", err
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("OpenID discovery %s: %w", f.uri, err)
	}
	u, err := url.Parse(doc.JWKSURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("OpenID discovery %s: invalid jwks_uri %q", f.uri, doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

// get fetches uri with a capped body.
func (f *fetcher) get(ctx context.Context, uri string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.k.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP status %d", uri, resp.StatusCode)
	}
	limit := f.k.opts.MaxBody
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%s: body larger than %d bytes", uri, limit)
	}
	return body, nil
}

// snapshot returns a copy of the status.
func (f *fetcher) snapshot() KeySetStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}
