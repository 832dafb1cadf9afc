package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway"
)

// buildVersion is set at link time (-ldflags "-X main.buildVersion=v1.2.3").
var buildVersion string

// version returns the release version, else the module version or VCS
// revision the binary was built from.
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

func versionCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "", stderr)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	fmt.Fprintln(stdout, "gatehouse", version())
	return exitOK
}

func validateCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var configs pathList
	fs := newFlagSet("validate", "--config PATH [--config PATH ...]", stderr)
	fs.Var(&configs, "config", "configuration file or directory (repeatable)")
	creds := fs.String("credentials-dir", "", "directory of credentialName secrets (NAME/tls.crt, NAME/tls.key, NAME/ca.crt)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if len(configs) == 0 {
		fmt.Fprintln(stderr, "gatehouse validate: --config is required")
		fs.Usage()
		return exitUsage
	}
	sum, problems, notes, err := gateway.Check(gateway.Options{ConfigPaths: configs, CredentialsDir: *creds})
	for _, n := range notes {
		fmt.Fprintln(stdout, "note:", n)
	}
	for _, p := range problems {
		if p.Warning {
			fmt.Fprintln(stdout, "warning:", p.String())
		}
	}
	if err != nil {
		for _, p := range problems {
			if !p.Warning {
				fmt.Fprintln(stdout, p.String())
			}
		}
		fmt.Fprintln(stderr, "gatehouse validate: the configuration is invalid")
		return exitFailure
	}
	fmt.Fprintf(stdout, "configuration is valid: %d files, %d resources, %d clusters, listeners: %s\n",
		sum.Files, sum.Resources, sum.Clusters, strings.Join(sum.Listeners, "; "))
	return exitOK
}

func healthCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("health", "[--admin ADDR]", stderr)
	admin := fs.String("admin", defaultAdmin, "admin address of the running gatehouse")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+*admin+"/healthz/ready", nil)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse health:", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse health: not ready:", err)
		return exitFailure
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "gatehouse health: not ready: %s %s\n", resp.Status, strings.TrimSpace(string(body)))
		return exitFailure
	}
	fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	return exitOK
}
