package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway"
)

// defaultAdmin is where the admin endpoints listen unless told otherwise:
// Envoy's admin port, on loopback only.
const defaultAdmin = "127.0.0.1:15000"

// pathList is a repeatable --config flag.
type pathList []string

func (p *pathList) String() string { return strings.Join(*p, ",") }

func (p *pathList) Set(v string) error {
	*p = append(*p, v)
	return nil
}

// runFlags are the flags of "run"; demo reuses the logging ones.
type runFlags struct {
	configs   pathList
	admin     string
	logLevel  string
	logFormat string
	drain     time.Duration
	// drainDelay applies only when given: else the configuration decides.
	drainDelay time.Duration
	settle     time.Duration
	headers    time.Duration
	maxConns   int
	engine     string
	creds      string
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n", strings.TrimSpace("gatehouse "+name+" "+synopsis))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args. The usage asked for with -h or --help goes to
// stdout, as the top-level --help does; after a mistake it goes to the
// flag set's output (stderr), below the error.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		stderr := fs.Output()
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(stderr)
	case err != nil:
		fs.Usage()
	}
	return err
}

// parse parses args; it returns an exit code when the command must stop
// (help asked for: 0; bad flags: 2).
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (int, bool) {
	if err := parseFlags(fs, args, stdout); err != nil {
		return parseExit(err), false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

// parseExit is the exit code for a flag parse error: 0 when help was
// asked for, else 2.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

func (f *runFlags) logging(fs *flag.FlagSet) {
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
}

// logger builds the process logger from the flags.
func (f *runFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("run", "--config PATH [--config PATH ...] [flags]", stderr)
	fs.Var(&f.configs, "config", "configuration file or directory (repeatable; directories are read recursively)")
	fs.StringVar(&f.admin, "admin", defaultAdmin, "admin address for /healthz/ready, /config_dump, /explain and metrics (\"\" disables)")
	fs.StringVar(&f.creds, "credentials-dir", "", "directory of credentialName secrets (NAME/tls.crt, NAME/tls.key, NAME/ca.crt)")
	fs.DurationVar(&f.drain, "drain-timeout", 15*time.Second, "how long in-flight requests may finish at shutdown")
	fs.DurationVar(&f.drainDelay, "drain-delay", 5*time.Second, "at shutdown, how long listeners keep accepting (with readiness failing) so load balancers move first; default: meshConfig.defaultConfig.terminationDrainDuration, else 5s")
	fs.StringVar(&f.engine, "upstream-engine", "gatehouse", "upstream HTTP/1.1 client: gatehouse, or net/http (for comparisons)")
	fs.IntVar(&f.maxConns, "max-connections", 0, "most downstream connections each listener holds at once; 0 means no cap (a Gateway's gatehouse.io/max-connections overrides it)")
	fs.DurationVar(&f.settle, "reload-settle", gateway.DefaultSettle, "how long a changed configuration file must stay quiet (and, on Linux, closed by its writer) before it is reloaded")
	fs.DurationVar(&f.headers, "header-timeout", gateway.DefaultHeaderTimeout, "how long a client may take to send a request head (timed from its first byte on a kept-alive connection) or its TLS handshake; slower ones are closed")
	f.logging(fs)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if len(f.configs) == 0 {
		fmt.Fprintln(stderr, "gatehouse run: --config is required")
		fs.Usage()
		return exitUsage
	}
	log, err := f.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse run:", err)
		return exitUsage
	}
	if f.settle <= 0 {
		fmt.Fprintf(stderr, "gatehouse run: --reload-settle %v: want a positive duration\n", f.settle)
		return exitUsage
	}
	if f.headers <= 0 {
		fmt.Fprintf(stderr, "gatehouse run: --header-timeout %v: want a positive duration\n", f.headers)
		return exitUsage
	}
	opts := gateway.Options{ConfigPaths: f.configs, AdminAddr: f.admin, Logger: log, DrainTimeout: f.drain, Version: version(),
		CredentialsDir: f.creds, Settle: f.settle, MaxConnections: f.maxConns, HeaderTimeout: f.headers}
	if f.maxConns < 0 {
		fmt.Fprintf(stderr, "gatehouse run: --max-connections %d: want 0 or more\n", f.maxConns)
		return exitUsage
	}
	if flagSet(fs, "drain-delay") {
		opts.DrainDelay = &f.drainDelay
	}
	switch f.engine {
	case "gatehouse":
	case "net/http":
		opts.StdUpstream = true
	default:
		fmt.Fprintf(stderr, "gatehouse run: --upstream-engine %q: want gatehouse or net/http\n", f.engine)
		return exitUsage
	}
	return serveWith(ctx, opts, stderr, nil)
}

// serveWith runs a gateway until SIGINT or SIGTERM, reloading on SIGHUP
// and reopening the access log on SIGUSR1 (for logrotate), and calls serving (if set) once the listeners are up. A second SIGINT or
// SIGTERM during the drain exits at once.
func serveWith(ctx context.Context, opts gateway.Options, stderr io.Writer, serving func(*gateway.Server)) int {
	raiseFileLimit(opts.Logger)
	srv, err := gateway.New(opts)
	if err != nil {
		printConfigError(stderr, err)
		return exitFailure
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGUSR1 {
				if err := srv.ReopenLogs(); err != nil {
					opts.Logger.Error("SIGUSR1: reopening the access log failed; still writing to the old file", "error", err.Error())
				} else {
					opts.Logger.Info("SIGUSR1: access log reopened")
				}
				continue
			}
			opts.Logger.Info("SIGHUP: reloading the configuration")
			srv.Reload()
		}
	}()
	go func() {
		select {
		case <-srv.Serving():
			if serving != nil {
				serving(srv)
			}
		case <-ctx.Done():
		}
		<-ctx.Done()
		stop() // a second signal now terminates the process
	}()
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "gatehouse:", err)
		return exitFailure
	}
	return exitOK
}

// printConfigError prints every problem of an invalid configuration, one
// per line.
func printConfigError(w io.Writer, err error) {
	if ce, ok := errors.AsType[*gateway.ConfigError](err); ok {
		for _, p := range ce.Problems {
			if !p.Warning {
				fmt.Fprintln(w, p.String())
			}
		}
		fmt.Fprintln(w, "gatehouse: the configuration is invalid")
		return
	}
	fmt.Fprintln(w, "gatehouse:", err)
}

// flagSet reports whether the command line gave flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
