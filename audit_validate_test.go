package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gatehouse validate reports what istioctl analyze would, as file:line:
// warnings (an unreachable route, a subset that selects no endpoint, a
// VirtualService bound to no Gateway, a host on two Gateways on one port)
// leave the exit code 0; errors (a regex that does not compile, a duration
// below 1 ms, weights that drop everything) are all printed at once and
// exit 1.
func TestAuditValidateAnalysis(t *testing.T) {
	t.Parallel()
	validate := func(config string) (int, string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code := run(context.Background(), []string{"validate", "--config", dir}, &out, &out)
		return code, strings.ReplaceAll(out.String(), dir+string(filepath.Separator), "")
	}

	code, out := validate(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [app.example.com]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [app.example.com]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc}
spec:
  hosts: [svc.internal]
  ports: [{number: 8000, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc}
spec:
  host: svc.internal
  subsets: [{name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: [app.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: svc.internal}}]
  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: svc.internal, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: loose}
spec:
  hosts: [loose.example.com]
  http:
  - route: [{destination: {host: svc.internal}}]
`)
	if code != exitOK {
		t.Errorf("warnings only: exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{
		"warning: all.yaml:41: VirtualService default/app: spec.http[1]: route is never used: http[0] before it matches every request",
		"warning: all.yaml:42: VirtualService default/app: spec.http[1].route[0].destination.subset: subset \"v2\" of host svc.internal selects no endpoint",
		"warning: all.yaml:47: VirtualService default/loose: spec.gateways: no gateways",
		"warning: all.yaml:15: Gateway default/other: spec.servers[0].hosts: host \"app.example.com\" on port 80 is also served by Gateway default/gw",
		"configuration is valid",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}

	code, out = validate(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match: [{uri: {regex: "/a/(["}}]
    route: [{destination: {host: a.internal, port: {number: 80}}}]
  - match: [{uri: {prefix: /b}}]
    timeout: 500us
    route: [{destination: {host: b.internal, port: {number: 80}}}]
  - route:
    - {destination: {host: a.internal, port: {number: 80}}, weight: 0}
    - {destination: {host: b.internal, port: {number: 80}}, weight: 0}
`)
	if code != exitFailure {
		t.Errorf("errors: exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"all.yaml:16: VirtualService default/app: spec.http[0].match[0].uri.regex: regex does not compile",
		"all.yaml:19: VirtualService default/app: spec.http[1].timeout: duration 500µs is below the 1ms minimum",
		"all.yaml:21: VirtualService default/app: spec.http[2].route: every destination has weight 0",
		"the configuration is invalid",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	// A match whose regex does not compile is no catch-all.
	if strings.Contains(out, "never used") {
		t.Errorf("routes after a broken match reported as unreachable:\n%s", out)
	}
}
