package router

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
	"gopkg.in/yaml.v3"
)

// compileSpec decodes VirtualService spec YAML in namespace default and
// returns every problem, warnings included.
func compileSpec(t testing.TB, name, spec string) (*VS, []error) {
	t.Helper()
	var s VirtualService
	dec := yaml.NewDecoder(strings.NewReader(spec))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return CompileVirtualService(api.Meta{Name: name, Namespace: "default"}, 0, &s)
}

// routeVS wraps one HTTPRoute (YAML flow mapping) in a VirtualService bound
// to default/gw for every host.
func routeVS(route string) string {
	return "{hosts: ['*'], gateways: [gw], http: [" + route + "]}"
}

// oneRoute compiles route and returns its first Route in a table built for
// server port port.
func oneRoute(t testing.TB, port uint32, route string) *Route {
	t.Helper()
	vs := mustVS(t, "r", "default", routeVS(route))
	tab := BuildTable([]Server{{Gateway: "default/gw", Hosts: []string{"*"}, Port: port}}, []*VS{vs}, hostResolver(testIDs))
	v := tab.VHost("any.host")
	if v == nil || len(v.Routes) == 0 {
		t.Fatalf("route %s: no route built", route)
	}
	return v.Routes[0]
}

// problems splits errs into hard errors and warnings, as strings.
func problems(errs []error) (hard, warn []string) {
	for _, err := range errs {
		if api.IsWarning(err) {
			warn = append(warn, err.Error())
		} else {
			hard = append(hard, err.Error())
		}
	}
	return hard, warn
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// compileCase is a compile-time validation expectation: the route (or a
// whole spec when it starts with "{hosts") must produce an error, or only a
// warning, containing want.
type compileCase struct {
	name    string
	spec    string
	want    string
	warning bool
}

// wholeSpec recognizes a compileCase spec that is a whole VirtualService.
var wholeSpec = regexp.MustCompile(`^\{(hosts|gateways|http|tcp|tls):`)

func runCompileCases(t *testing.T, tests []compileCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if !wholeSpec.MatchString(spec) {
				spec = routeVS(spec)
			}
			_, errs := compileSpec(t, "x", spec)
			hard, warn := problems(errs)
			switch {
			case tc.warning && (!containsSub(warn, tc.want) || len(hard) > 0):
				t.Errorf("errors %q, warnings %q; want only a warning containing %q", hard, warn, tc.want)
			case !tc.warning && !containsSub(hard, tc.want):
				t.Errorf("errors %q; want one containing %q", hard, tc.want)
			}
		})
	}
}

// fakeVars is a FormatVars for tests.
type fakeVars struct {
	hdr   map[string]string
	vars  map[FormatVar]string
	start time.Time
}

func (f fakeVars) RequestHeader(name string) string { return f.hdr[name] }
func (f fakeVars) Var(v FormatVar) string           { return f.vars[v] }
func (f fakeVars) StartTime() time.Time             { return f.start }

// nsResolver maps destinations, qualified with their namespace, to IDs.
func nsResolver(ids map[string]UpstreamID) Resolver {
	return func(d Destination, ns string, port uint32) UpstreamID {
		if id, ok := ids[QualifyHost(d.Host, ns)]; ok {
			return id
		}
		return NoUpstream
	}
}
