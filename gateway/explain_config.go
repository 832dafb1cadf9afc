package gateway

import (
	"context"
	"log/slog"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// ExplainConfig loads the configuration of opts (ConfigPaths,
// CredentialsDir) as Check does and explains req against it. Remote JWT
// key sets are fetched as a running gateway would, bounded by ctx.
func ExplainConfig(ctx context.Context, opts Options, req proxy.ExplainRequest) (*proxy.Explanation, error) {
	files, err := config.ReadSources(opts.ConfigPaths)
	if err != nil {
		return nil, &ConfigError{Problems: []Problem{{Err: err}}}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ks := authz.NewKeySets(ctx, authz.KeySetOptions{Logger: log})
	defer ks.Close()
	pools := transport.NewPoolSet(nil)
	defer pools.CloseAll()
	snap, d := compile(files, compileEnv{pools: pools, credentialsDir: opts.CredentialsDir, keySets: ks, log: log})
	if d.Problems.ErrorCount() > 0 {
		return nil, &ConfigError{Problems: d.Problems.List}
	}
	return snap.Explain(ctx, req)
}
