package gateway

import (
	"fmt"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// Summary describes a configuration that loaded.
type Summary struct {
	Files     int
	Resources int
	Listeners []string
	Clusters  int
}

// Check loads and compiles the configuration of opts (ConfigPaths,
// CredentialsDir) without serving it. It returns every problem found
// (errors and warnings) and the documents skipped; err is a *ConfigError
// when the configuration is invalid.
func Check(opts Options) (*Summary, []Problem, []string, error) {
	files, err := config.ReadSources(opts.ConfigPaths)
	if err != nil {
		return nil, []Problem{{Err: err}}, nil, &ConfigError{Problems: []Problem{{Err: err}}}
	}
	snap, d := compile(files, compileEnv{pools: transport.NewPoolSet(nil), credentialsDir: opts.CredentialsDir})
	if d.Problems.ErrorCount() > 0 {
		return nil, d.Problems.List, d.Notes, &ConfigError{Problems: d.Problems.List}
	}
	sum := &Summary{Files: len(files), Resources: len(d.Resources), Clusters: len(snap.Clusters)}
	for k, lc := range snap.Listeners {
		sum.Listeners = append(sum.Listeners, fmt.Sprintf("%s %s", k, lc.Family))
	}
	sortStrings(sum.Listeners)
	return sum, d.Problems.List, d.Notes, nil
}

// errShuttingDown rejects a reload that arrives during shutdown.
