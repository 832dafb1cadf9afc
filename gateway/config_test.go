package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// checkDir writes files into a directory and runs Check on it.
func checkDir(t *testing.T, files map[string]string) (string, []Problem, []string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, problems, notes, err := Check(Options{ConfigPaths: []string{dir}})
	return dir, problems, notes, err
}

// Every problem is reported at once, each as file:line: Kind ns/name:
// field: what.
func TestConfigErrorsCarryPositions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  []string // problem strings with the directory stripped
	}{
		{
			name: "unknown field and bad duration in one document",
			files: map[string]string{"gw.yaml": httpGateway, "vs.yaml": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: shop}
spec:
  hosts: ["*"]
  gateways: [default/gw]
  http:
  - route: [{destination: {host: a}}]
    timeout: 5 seconds
    retriez: {}
`},
			want: []string{
				`vs.yaml:9: VirtualService shop/vs: spec.http[0].timeout: invalid duration "5 seconds": want a number with a unit such as "5s" or "250ms"`,
				`vs.yaml:10: VirtualService shop/vs: spec.http[0].retriez: unknown field "retriez"`,
			},
		},
		{
			name: "unknown protocol, bad port and missing name across two gateways",
			files: map[string]string{"gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: a}
spec:
  servers:
  - port: {number: 70000, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: b, namespace: edge}
spec:
  servers:
  - port:
      number: 8080
      protocol: HTTPX
    hosts: [foo]
`},
			want: []string{
				`gw.yaml:6: Gateway default/a: spec.servers[0].port.number: port 70000 is out of range 1-65535`,
				`gw.yaml:14: Gateway edge/b: spec.servers[0].port.name: required: every Gateway port needs a name`,
				`gw.yaml:16: Gateway edge/b: spec.servers[0].port.protocol: unknown protocol "HTTPX": want one of GRPC, GRPC-WEB, HTTP, HTTP2, HTTPS, MONGO, MYSQL, REDIS, TCP, TLS`,
				`gw.yaml:17: Gateway edge/b: spec.servers[0].hosts[0]: host "foo": short names are not allowed in Gateway hosts; use a fully qualified name or "*"`,
			},
		},
		{
			name: "regex that does not compile and a missing gateway",
			files: map[string]string{"gw.yaml": httpGateway, "vs.yaml": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: ["*"]
  gateways: [gw, other]
  http:
  - match:
    - uri: {regex: "/a(b"}
    route: [{destination: {host: a}}]
`},
			want: []string{
				`vs.yaml:6: VirtualService default/vs: spec.gateways[1]: Gateway default/other not found (is its file loaded, and its namespace right?)`,
				`vs.yaml:9: VirtualService default/vs: spec.http[0].match[0].uri.regex: regex does not compile: error parsing regexp: missing closing ): ` + "`/a(b`",
			},
		},
		{
			name:  "syntax error and an empty file",
			files: map[string]string{"gw.yaml": httpGateway, "bad.yaml": "kind: Gateway\nspec: [\n", "empty.yaml": "# nothing yet\n"},
			want: []string{
				`bad.yaml:2: did not find expected node content`,
				`empty.yaml: file holds no configuration (empty, or only comments); delete it rather than leave it empty`,
			},
		},
		{
			name:  "no gateway at all",
			files: map[string]string{"vs.yaml": vsTo(80)},
			want: []string{
				`no Gateway in the configuration: gatehouse would listen on nothing`,
				`vs.yaml:6: VirtualService default/vs: spec.gateways[0]: Gateway default/gw not found (is its file loaded, and its namespace right?)`,
			},
		},
		{
			name:  "unknown apiVersion of a known group",
			files: map[string]string{"gw.yaml": httpGateway + "---\napiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: x}\nspec: {}\n"},
			want:  []string{`gw.yaml:9: VirtualService default/x: apiVersion networking.istio.io/v2: networking.istio.io serves VirtualService in versions v1, v1beta1, v1alpha3`},
		},
		{
			name:  "one name defined twice",
			files: map[string]string{"a.yaml": httpGateway, "b.yaml": httpGateway, "vs.yaml": vsTo(80)},
			want:  []string{`b.yaml:3: Gateway default/gw: metadata.name: Gateway default/gw is already defined at a.yaml:1; names must be unique per kind and namespace`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, problems, _, err := checkDir(t, tc.files)
			if err == nil {
				t.Fatal("Check accepted the configuration")
			}
			var got []string
			for _, p := range problems {
				if !p.Warning {
					got = append(got, strings.ReplaceAll(p.String(), dir+"/", ""))
				}
			}
			if strings.Join(sortStrings(got), "\n") != strings.Join(sortStrings(tc.want), "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// Kinds gatehouse does not implement are skipped with a note; fields that
// only mean something in Kubernetes are accepted.
func TestForeignKindsAndKubernetesFields(t *testing.T) {
	t.Parallel()
	_, problems, notes, err := checkDir(t, map[string]string{
		"all.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin}
spec: {replicas: 1}
---
apiVersion: v1
kind: Service
metadata: {name: httpbin}
spec: {ports: [{port: 8000}]}
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: gw
  namespace: default
  uid: 6e7c
  resourceVersion: "42"
  labels: {app: x}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: http}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: ["*"]
  gateways: [gw]
  exportTo: ["."]
  http:
  - route: [{destination: {host: httpbin, port: {number: 8000}}}]
status: {observedGeneration: 1}
`,
	})
	if err != nil {
		t.Fatalf("Check: %v (%v)", err, problems)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "skipping Deployment default/httpbin") || !strings.Contains(notes[1], "all.yaml:6: skipping Service default/httpbin") {
		t.Errorf("notes = %q", notes)
	}
}

// FuzzLoad feeds arbitrary YAML to the loader: it never panics, and every
// error it reports says where.
func FuzzLoad(f *testing.F) {
	for _, p := range exampleFiles(f) {
		data, err := os.ReadFile(p)
		if err == nil {
			f.Add(string(data))
		}
	}
	f.Add(httpGateway + "---\n" + vsTo(8000))
	f.Add("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n")
	f.Add("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: [}\n")
	f.Fuzz(func(t *testing.T, data string) {
		snap, d := compile([]config.File{config.NewFile("f.yaml", []byte(data))}, compileEnv{pools: transport.NewPoolSet(nil)})
		if snap == nil {
			t.Fatal("nil snapshot")
		}
		for _, p := range d.Problems.List {
			if p.File == "" && !strings.Contains(p.Err.Error(), "no Gateway") {
				t.Errorf("problem without a file: %v", p)
			}
		}
	})
}

// exampleFiles lists the YAML files under examples/.
func exampleFiles(tb testing.TB) []string {
	var out []string
	filepath.WalkDir("../examples", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && config.IsYAMLName(p) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// A DestinationRule asking for PROXY headers upstream is warned about when
// HTTP routes use it: only forwarded TCP connections carry the header.
func TestWarnProxyProtocolOnHTTP(t *testing.T) {
	t.Parallel()
	dr := `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pp}
spec:
  host: 127.0.0.1
  trafficPolicy:
    proxyProtocol: {version: V2}
`
	dir, problems, _, err := checkDir(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(8080), "dr.yaml": dr})
	if err != nil {
		t.Fatal(err)
	}
	want := "dr.yaml:7: DestinationRule default/pp: spec.trafficPolicy.proxyProtocol: ignored for HTTP routes (default/vs)"
	for _, p := range problems {
		if p.Warning && strings.HasPrefix(strings.ReplaceAll(p.String(), dir+"/", ""), want) {
			return
		}
	}
	t.Fatalf("no warning %q in %v", want, problems)
}

// Two Gateways serving one host on one port are merged; analyze warns.
func TestWarnHostOnTwoGateways(t *testing.T) {
	t.Parallel()
	gw := func(name, host string) string {
		return "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: " + name + "}\nspec:\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"" + host + "\"]\n"
	}
	dir, problems, _, err := checkDir(t, map[string]string{"a.yaml": gw("gw", "app.example.com"), "b.yaml": gw("other", "App.example.com"),
		"c.yaml": gw("third", "api.example.com"), "vs.yaml": vsTo(8080)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		if p.Warning && strings.Contains(p.String(), "also served by") {
			got = append(got, strings.ReplaceAll(p.String(), dir+"/", ""))
		}
	}
	want := `b.yaml:7: Gateway default/other: spec.servers[0].hosts: host "app.example.com" on port 80 is also served by Gateway default/gw (server 0)`
	if len(got) != 1 || !strings.HasPrefix(got[0], want) {
		t.Fatalf("warnings %q, want one starting %q", got, want)
	}
}

// An EnvoyFilter for a port no Gateway server listens on (8080, the
// in-cluster container port users paste) turns PROXY on for nothing: warn.
func TestWarnEnvoyFilterPortWithoutListener(t *testing.T) {
	t.Parallel()
	ef := `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: proxy-protocol, namespace: istio-system}
spec:
  configPatches:
  - applyTo: LISTENER
    match:
      context: GATEWAY
      listener: {portNumber: %d}
    patch:
      operation: MERGE
      value:
        listener_filters:
        - name: envoy.listener.proxy_protocol
`
	for _, tc := range []struct {
		port int
		warn bool
	}{{8080, true}, {80, false}} {
		dir, problems, _, err := checkDir(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(9000), "ef.yaml": fmt.Sprintf(ef, tc.port)})
		if err != nil {
			t.Fatal(err)
		}
		want := "ef.yaml:9: EnvoyFilter istio-system/proxy-protocol: spec.configPatches[0].match.listener.portNumber: no Gateway server listens on port 8080"
		found := false
		for _, p := range problems {
			found = found || p.Warning && strings.HasPrefix(strings.ReplaceAll(p.String(), dir+"/", ""), want)
		}
		if found != tc.warn {
			t.Errorf("port %d: warning %q found=%v, want %v; problems: %v", tc.port, want, found, tc.warn, problems)
		}
	}
}

// loadBalancer PASSTHROUGH (original destination) means nothing at an edge
// gateway: the load warns and balances with Istio's default.
func TestWarnPassthroughLoadBalancer(t *testing.T) {
	t.Parallel()
	dr := `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pt}
spec:
  host: 127.0.0.1
  trafficPolicy:
    loadBalancer: {simple: PASSTHROUGH}
`
	dir, problems, _, err := checkDir(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(9000), "dr.yaml": dr})
	if err != nil {
		t.Fatal(err)
	}
	// The dump and explain name the balancer that actually picks.
	if got := upstream.BalancerName(&upstream.LoadBalancerSettings{Simple: "PASSTHROUGH"}); got != "LEAST_REQUEST" {
		t.Errorf("PASSTHROUGH is described as %q, want LEAST_REQUEST", got)
	}
	want := "dr.yaml:7: DestinationRule default/pt: spec.trafficPolicy.loadBalancer.simple: PASSTHROUGH forwards to the connection's original destination"
	for _, p := range problems {
		if p.Warning && strings.HasPrefix(strings.ReplaceAll(p.String(), dir+"/", ""), want) {
			return
		}
	}
	t.Fatalf("no warning %q in %v", want, problems)
}
