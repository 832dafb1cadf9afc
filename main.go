// Command gatehouse is a standalone edge gateway that serves Istio's
// Gateway, VirtualService, DestinationRule, ServiceEntry and security
// resources from YAML files on disk, without Kubernetes.
//
// Usage:
//
//	gatehouse run --config PATH [--config PATH ...] [--admin ADDR]
//	gatehouse validate --config PATH [--config PATH ...]
//	gatehouse explain (--config PATH ... | --admin ADDR) [flags] [METHOD] URL
//	gatehouse demo
//	gatehouse health [--admin ADDR]
//	gatehouse version
//
// Exit codes: 0 success, 1 invalid configuration or runtime failure, 2
// usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

// Exit codes, a contract with scripts and service managers.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "serve the configuration", runCmd},
		{"validate", "check a configuration without serving it", validateCmd},
		{"explain", "show how a request would be served, step by step", explainCmd},
		{"demo", "run the httpbin walkthrough with a built-in upstream", demoCmd},
		{"health", "exit 0 if a running gatehouse is ready (for container probes)", healthCmd},
		{"version", "print the version", versionCmd},
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, "gatehouse is an edge gateway that serves Istio YAML from disk.\n\nUsage:\n  gatehouse <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'gatehouse <command> --help' for a command's flags.\n")
}
