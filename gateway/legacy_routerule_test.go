package gateway

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/legacy"
)

// routeRuleDoc is a RouteRule for httpbin with the given spec lines
// (indented under spec:, after the destination).
func routeRuleDoc(name string, spec ...string) string {
	return fmt.Sprintf("---\napiVersion: config.istio.io/v1alpha2\nkind: RouteRule\nmetadata: {name: %s}\nspec:\n  destination: {name: httpbin}\n  %s\n",
		name, strings.Join(spec, "\n  "))
}

func TestLegacyRouteRuleTranslation(t *testing.T) {
	t.Parallel()
	const (
		hb     = httpbinFQDN + ":8000"
		status = "exact /status | prefix /status/ -> " + hb + " w100"
		delay  = "exact /delay | prefix /delay/ -> " + hb + " w100"
	)
	v1, v2 := legacy.RouteRuleSubsetName(map[string]string{"version": "v1"}), legacy.RouteRuleSubsetName(map[string]string{"version": "v2"})
	tests := []struct {
		name     string
		yaml     string
		routes   []string            // routes of the walkthrough VirtualService
		subsets  map[string][]string // DestinationRule -> subsets
		problems []string
		errs     bool
	}{{
		name: "walkthrough: 4s timeout on /delay/",
		yaml: "---\n" + legacyFixture(t, "httpbin-timeout.yaml"),
		routes: []string{
			status,
			"prefix /delay/ -> " + hb + " w100; timeout 4s [routerule.default.httpbin-timeout]",
			"exact /delay -> " + hb + " w100",
		},
	}, {
		name: "precedence: higher first, ties by name",
		yaml: routeRuleDoc("a-low", "precedence: 1", "match: {request: {headers: {x-user: {exact: jason}}}}", "appendHeaders: {x-rule: a}") +
			routeRuleDoc("b-high", "precedence: 5", "match: {request: {headers: {x-user: {prefix: j}, method: GET}}}", "appendHeaders: {x-rule: b}") +
			routeRuleDoc("c-tie", "precedence: 1", "match: {request: {headers: {x-debug: \"1\"}}}", "appendHeaders: {x-rule: c}"),
		routes: []string{
			"exact /status method=exact GET x-user=prefix j | prefix /status/ method=exact GET x-user=prefix j -> " + hb + " w100; add x-rule=b [routerule.default.b-high]",
			"exact /status x-user=exact jason | prefix /status/ x-user=exact jason -> " + hb + " w100; add x-rule=a [routerule.default.a-low]",
			"exact /status x-debug=exact 1 | prefix /status/ x-debug=exact 1 -> " + hb + " w100; add x-rule=c [routerule.default.c-tie]",
			status,
			"exact /delay method=exact GET x-user=prefix j | prefix /delay/ method=exact GET x-user=prefix j -> " + hb + " w100; add x-rule=b [routerule.default.b-high]",
			"exact /delay x-user=exact jason | prefix /delay/ x-user=exact jason -> " + hb + " w100; add x-rule=a [routerule.default.a-low]",
			"exact /delay x-debug=exact 1 | prefix /delay/ x-debug=exact 1 -> " + hb + " w100; add x-rule=c [routerule.default.c-tie]",
			delay,
		},
	}, {
		name: "uri intersection keeps the more specific side",
		yaml: routeRuleDoc("exact-418", "precedence: 4", "match: {request: {headers: {uri: {exact: /status/418}}}}", "httpReqTimeout: {simpleTimeout: {timeout: 1s}}") +
			routeRuleDoc("shorter-prefix", "precedence: 3", "match: {request: {headers: {uri: {prefix: /dela}, method: POST}}}", "httpReqTimeout: {simpleTimeout: {timeout: 2s}}") +
			routeRuleDoc("regex-inside", "precedence: 2", "match: {request: {headers: {uri: {regex: \"/status/[0-9]+\"}}}}", "httpReqTimeout: {simpleTimeout: {timeout: 3s}}") +
			routeRuleDoc("everything", "precedence: 1", "match: {request: {headers: {uri: {prefix: /}}}}", "httpFault: {abort: {percent: 50, httpStatus: 503}}") +
			routeRuleDoc("never", "precedence: 0", "httpReqTimeout: {simpleTimeout: {timeout: 9s}}") +
			routeRuleDoc("elsewhere", "match: {request: {headers: {uri: /elsewhere}}}", "httpReqTimeout: {simpleTimeout: {timeout: 5s}}"),
		routes: []string{
			"exact /status/418 -> " + hb + " w100; timeout 1s [routerule.default.exact-418]",
			"regex /status/[0-9]+ -> " + hb + " w100; timeout 3s [routerule.default.regex-inside]",
			"exact /status | prefix /status/ -> " + hb + " w100; abort 50% 503 [routerule.default.everything]",
			"exact /delay method=exact POST | prefix /delay/ method=exact POST -> " + hb + " w100; timeout 2s [routerule.default.shorter-prefix]",
			"exact /delay | prefix /delay/ -> " + hb + " w100; abort 50% 503 [routerule.default.everything]",
		},
		problems: []string{
			"W 62: RouteRule default/never: spec.precedence: never applies: RouteRules for httpbin.default.svc.cluster.local that come first (higher precedence, then name) take every request it matches",
			"W 70: RouteRule default/elsewhere: spec.match: applies to no Ingress route: its match overlaps none of the Ingress paths",
		},
	}, {
		name: "a regex that straddles the Ingress prefix is kept alone, with a warning",
		yaml: routeRuleDoc("straddle", `match: {request: {headers: {uri: {regex: "/(status|delay)/.*"}}}}`, "httpReqTimeout: {simpleTimeout: {timeout: 1s}}"),
		routes: []string{
			"regex /(status|delay)/.* -> " + hb + " w100; timeout 1s [routerule.default.straddle]",
			status,
			"regex /(status|delay)/.* -> " + hb + " w100; timeout 1s [routerule.default.straddle]",
			delay,
		},
		problems: []string{
			`W 26: RouteRule default/straddle: spec.match.request.headers.uri.regex: for Ingress default/simple-ingress path spec.rules[0].http.paths[0] (prefix "/status/") the route matches this regex alone`,
		},
	}, {
		name: "weighted routes become DestinationRule subsets",
		yaml: `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: canary}
spec:
  hosts: [httpbin-canary.default.svc.cluster.local]
  ports: [{number: 9000, name: http, protocol: HTTP}]
  resolution: DNS
` + routeRuleDoc("split", "match: {request: {headers: {uri: {prefix: /status/}}}}", "route:", "- {labels: {version: v1}, weight: 75}", "- {labels: {version: v2}, weight: 25}") +
			routeRuleDoc("canary", "precedence: 1", "match: {request: {headers: {cookie: {regex: \".*canary=1.*\"}}}}",
				"route:", "- {destination: {name: httpbin-canary}, weight: 10}", "- {labels: {version: v1}, weight: 90}",
				"mirror: {name: httpbin, labels: {version: v2}}"),
		routes: []string{
			"exact /status cookie=regex .*canary=1.* | prefix /status/ cookie=regex .*canary=1.* -> httpbin-canary.default.svc.cluster.local:9000 w10, " + hb + "/" + v1 + " w90; mirror " + hb + "/" + v2 + " [routerule.default.canary]",
			"prefix /status/ -> " + hb + "/" + v1 + " w75, " + hb + "/" + v2 + " w25 [routerule.default.split]",
			"exact /status -> " + hb + " w100",
			"exact /delay cookie=regex .*canary=1.* | prefix /delay/ cookie=regex .*canary=1.* -> httpbin-canary.default.svc.cluster.local:9000 w10, " + hb + "/" + v1 + " w90; mirror " + hb + "/" + v2 + " [routerule.default.canary]",
			delay,
		},
		subsets: map[string][]string{"default/httpbin-default-svc-cluster-local-routerule-subsets": sortStrings([]string{
			fmt.Sprintf("%s %s map[version:v1]", httpbinFQDN, v1),
			fmt.Sprintf("%s %s map[version:v2]", httpbinFQDN, v2),
		})},
	}, {
		name: "timeout, retries, fault, redirect, rewrite, appendHeaders, CORS",
		yaml: routeRuleDoc("actions-retry", "precedence: 9", "match: {request: {headers: {x-case: retry}}}",
			"httpReqRetries: {simpleRetry: {attempts: 3, perTryTimeout: 2s}}", "httpReqTimeout: {simpleTimeout: {timeout: 10s}}") +
			routeRuleDoc("actions-noretry", "precedence: 8", "match: {request: {headers: {x-case: noretry}}}", "httpReqRetries: {simpleRetry: {attempts: 0}}") +
			routeRuleDoc("actions-fault", "precedence: 7", "match: {request: {headers: {x-case: fault}}}",
				"httpFault: {delay: {percent: 10, fixedDelay: 5s}, abort: {percent: 0.5, httpStatus: 400}}") +
			routeRuleDoc("actions-redirect", "precedence: 6", "match: {request: {headers: {uri: {exact: /status/301}}}}",
				"redirect: {uri: /status/200, authority: httpbin.example.com}") +
			routeRuleDoc("actions-rewrite", "precedence: 5", "match: {request: {headers: {uri: {prefix: /delay/}, x-case: rewrite}}}",
				"rewrite: {uri: /anything/, authority: httpbin.internal}") +
			routeRuleDoc("actions-rewrite-all", "precedence: 4", "match: {request: {headers: {x-case: rewrite-all}}}", "rewrite: {uri: /v2/}") +
			routeRuleDoc("actions-cors", "precedence: 3", "match: {request: {headers: {x-case: cors}}}",
				"corsPolicy: {allowOrigin: [example.com], allowMethods: [GET, POST], maxAge: 24h, allowCredentials: false}",
				"appendHeaders: {x-a: \"1\", x-b: \"2\"}", "websocketUpgrade: true"),
		routes: []string{
			"exact /status x-case=exact retry | prefix /status/ x-case=exact retry -> " + hb + " w100; timeout 10s; retries 3 perTry 2s on 5xx,connect-failure,refused-stream [routerule.default.actions-retry]",
			"exact /status x-case=exact noretry | prefix /status/ x-case=exact noretry -> " + hb + " w100; retries 0 [routerule.default.actions-noretry]",
			"exact /status x-case=exact fault | prefix /status/ x-case=exact fault -> " + hb + " w100; delay 10% 5s; abort 0.5% 400 [routerule.default.actions-fault]",
			`exact /status/301; redirect uri="/status/200" authority="httpbin.example.com" [routerule.default.actions-redirect]`,
			`exact /status x-case=exact rewrite-all | prefix /status/ x-case=exact rewrite-all -> ` + hb + ` w100; rewrite regex "^/"->"/v2/" authority="" [routerule.default.actions-rewrite-all]`,
			"exact /status x-case=exact cors | prefix /status/ x-case=exact cors -> " + hb + " w100; add x-a=1; add x-b=2; cors origins=[exact example.com] methods=[GET POST] [routerule.default.actions-cors]",
			status,
			"exact /delay x-case=exact retry | prefix /delay/ x-case=exact retry -> " + hb + " w100; timeout 10s; retries 3 perTry 2s on 5xx,connect-failure,refused-stream [routerule.default.actions-retry]",
			"exact /delay x-case=exact noretry | prefix /delay/ x-case=exact noretry -> " + hb + " w100; retries 0 [routerule.default.actions-noretry]",
			"exact /delay x-case=exact fault | prefix /delay/ x-case=exact fault -> " + hb + " w100; delay 10% 5s; abort 0.5% 400 [routerule.default.actions-fault]",
			`prefix /delay/ x-case=exact rewrite -> ` + hb + ` w100; rewrite uri="/anything/" authority="httpbin.internal" [routerule.default.actions-rewrite]`,
			`exact /delay x-case=exact rewrite-all | prefix /delay/ x-case=exact rewrite-all -> ` + hb + ` w100; rewrite regex "^/"->"/v2/" authority="" [routerule.default.actions-rewrite-all]`,
			"exact /delay x-case=exact cors | prefix /delay/ x-case=exact cors -> " + hb + " w100; add x-a=1; add x-b=2; cors origins=[exact example.com] methods=[GET POST] [routerule.default.actions-cors]",
			delay,
		},
	}, {
		name:   "a rule for a service no Ingress routes to",
		yaml:   "---\napiVersion: config.istio.io/v1alpha2\nkind: RouteRule\nmetadata: {name: reviews-v2}\nspec:\n  destination: {name: reviews}\n  route: [{labels: {version: v2}}]\n",
		routes: []string{status, delay},
		problems: []string{
			"W 25: RouteRule default/reviews-v2: spec.destination: applies to no Ingress route; at a gateway RouteRules only refine Ingress routes, and no Ingress routes to reviews.default.svc.cluster.local",
		},
	}, {
		name: "match.source: the ingress applies, other sources do not",
		yaml: routeRuleDoc("from-ingress", "match: {source: {name: istio-ingress, namespace: istio-system}, request: {headers: {uri: {prefix: /delay/}}}}", "httpReqTimeout: {simpleTimeout: {timeout: 1s}}") +
			routeRuleDoc("from-reviews", "match: {source: {name: reviews, labels: {version: v2}}}", "httpReqTimeout: {simpleTimeout: {timeout: 1s}}"),
		routes: []string{
			status,
			"prefix /delay/ -> " + hb + " w100; timeout 1s [routerule.default.from-ingress]",
			"exact /delay -> " + hb + " w100",
		},
		problems: []string{
			"RouteRule default/from-reviews: spec.match.source: RouteRule skipped: it only applies to requests from reviews.default.svc.cluster.local",
		},
	}, {
		name: "invalid rules are reported at their own fields and dropped",
		errs: true,
		yaml: routeRuleDoc("bad-weights", "route:", "- {labels: {version: v1}, weight: 60}", "- {labels: {version: v2}, weight: 30}") +
			routeRuleDoc("bad-redirect", "redirect: {uri: /x}", "route: [{labels: {version: v1}}]") +
			routeRuleDoc("bad-regex", "match: {request: {headers: {uri: {regex: \"(\"}}}}") +
			routeRuleDoc("bad-maxage", "corsPolicy:", "  allowOrigin: [\"*\"]", "  maxAge: 1500ms") +
			routeRuleDoc("skipped-faults", "match: {request: {headers: {x-case: faults}}}",
				"httpFault:", "  delay: {fixedDelay: 1s}", "  abort: {percent: 100, grpcStatus: UNAVAILABLE}"),
		routes: []string{
			"exact /status x-case=exact faults | prefix /status/ x-case=exact faults -> " + hb + " w100 [routerule.default.skipped-faults]",
			status,
			"exact /delay x-case=exact faults | prefix /delay/ x-case=exact faults -> " + hb + " w100 [routerule.default.skipped-faults]",
			delay,
		},
		problems: []string{
			"E 26: RouteRule default/bad-weights: spec.route: the weights add up to 90; they must total 100",
			"E 35: RouteRule default/bad-redirect: spec.redirect: a rule cannot contain both redirect and route",
			"E 43: RouteRule default/bad-regex: spec.match.request.headers.uri.regex: regex does not compile",
			"E 52: RouteRule default/bad-maxage: spec.corsPolicy.maxAge: maxAge is accurate only to seconds precision",
			"W 61: RouteRule default/skipped-faults: spec.httpFault.delay.percent: delay skipped: with percent 0 or unset Istio 0.x delayed no request",
			"W 62: RouteRule default/skipped-faults: spec.httpFault.abort: abort skipped: only httpStatus aborts were implemented",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := legacyLoad(t, legacyFixture(t, "simple-ingress.yaml")+tc.yaml)
			diffLines(t, "routes", l.routes(walkthroughVS), tc.routes)
			drs := 0
			for _, r := range l.gen {
				if r.Kind == "DestinationRule" {
					drs++
				}
			}
			if drs != len(tc.subsets) {
				t.Errorf("generated %v, want %d DestinationRules", l.keys(), len(tc.subsets))
			}
			for key, want := range tc.subsets {
				diffLines(t, "DestinationRule "+key, l.subsets(key), want)
			}
			l.wantProblems(tc.errs, tc.problems...)
			l.compiles()
		})
	}
}
