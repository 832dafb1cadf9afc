package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway"
)

// headerList collects repeated -H flags.
type headerList []string

func (h *headerList) String() string { return strings.Join(*h, "; ") }

func (h *headerList) Set(v string) error {
	if k, _, ok := strings.Cut(v, ":"); !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q: want \"Name: value\"", v)
	}
	*h = append(*h, v)
	return nil
}

const explainSynopsis = `(--config PATH ... | --admin ADDR) [flags] [METHOD] URL

Explains how gatehouse would serve a request, step by step: the listener,
the client address and the trust behind it, the normalized path, the JWT
verdict, every route tried and why it did or did not match, every policy
that decided, and the final answer or upstream, timeout and retries.
Nothing is sent anywhere. With --config it loads the files (fetching JWT
key sets); with --admin it asks a running gatehouse about its live
configuration.

Example:
  gatehouse explain --config examples/quickstart -H 'X-Forwarded-For: 203.0.113.9' \
    --peer 10.0.0.5 GET http://httpbin.example.com/status/418`

func explainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var configs pathList
	var headers headerList
	fs := newFlagSet("explain", explainSynopsis, stderr)
	fs.Var(&configs, "config", "configuration file or directory (repeatable)")
	creds := fs.String("credentials-dir", "", "directory of credentialName secrets")
	admin := fs.String("admin", "", "ask the running gatehouse at this admin address instead of loading --config")
	fs.Var(&headers, "H", "request header \"Name: value\" (repeatable)")
	var req gateway.ExplainRequest
	fs.StringVar(&req.Peer, "peer", "", "physical peer address (default 127.0.0.1)")
	fs.StringVar(&req.ProxySource, "proxy-source", "", "source address of a PROXY protocol header the peer sends")
	fs.StringVar(&req.SNI, "sni", "", "TLS server name (default: the URL's host, for https)")
	fs.StringVar(&req.Principal, "principal", "", "client certificate identity for mTLS, such as cluster.local/ns/default/sa/client")
	port := fs.Uint("port", 0, "Gateway port the request arrives on (default: the URL's port, else 80 or 443)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long JWT key set fetches may take")
	if err := parseFlags(fs, args, stdout); err != nil {
		return parseExit(err)
	}
	switch rest := fs.Args(); len(rest) {
	case 1:
		req.URL = rest[0]
	case 2:
		req.Method, req.URL = strings.ToUpper(rest[0]), rest[1]
	default:
		fmt.Fprintln(stderr, "gatehouse explain: want [METHOD] URL")
		fs.Usage()
		return exitUsage
	}
	if (len(configs) == 0) == (*admin == "") {
		fmt.Fprintln(stderr, "gatehouse explain: give either --config or --admin")
		return exitUsage
	}
	req.Port = uint32(*port)
	req.Header = http.Header{}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *admin != "" {
		return explainRemote(ctx, *admin, req, stdout, stderr)
	}
	x, err := gateway.ExplainConfig(ctx, gateway.Options{ConfigPaths: configs, CredentialsDir: *creds}, req)
	if err != nil {
		printConfigError(stderr, err)
		return exitFailure
	}
	fmt.Fprint(stdout, x.String())
	return exitOK
}

// explainRemote asks a running gatehouse's admin endpoint.
func explainRemote(ctx context.Context, admin string, req gateway.ExplainRequest, stdout, stderr io.Writer) int {
	q := url.Values{"url": {req.URL}}
	for k, v := range map[string]string{"method": req.Method, "peer": req.Peer, "proxy": req.ProxySource, "sni": req.SNI, "principal": req.Principal} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if req.Port != 0 {
		q.Set("port", strconv.Itoa(int(req.Port)))
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			q.Add("header", k+": "+v)
		}
	}
	hr, err := http.NewRequestWithContext(ctx, "GET", "http://"+admin+"/explain?"+q.Encode(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse explain:", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse explain:", err)
		return exitFailure
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "gatehouse explain: %s: %s", resp.Status, body)
		return exitFailure
	}
	stdout.Write(body)
	return exitOK
}
