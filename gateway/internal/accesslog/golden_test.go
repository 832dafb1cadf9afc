package accesslog

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testStart = time.Date(2026, 11, 25, 13, 40, 0, 123456789, time.UTC)

// proxied is a proxied 200 as the proxy would fill it.
func proxied() *Entry {
	return &Entry{
		Start: testStart, Method: "GET", Path: "/index.html?q=1", Protocol: "HTTP/1.1",
		Code: 200, Details: "via_upstream", BytesSent: 612, Duration: 12900 * time.Microsecond,
		UpstreamServiceTime: 11 * time.Millisecond,
		XFF:                 "192.0.2.10", UserAgent: "curl/8.5.0", RequestID: "7f3c1a2e-9b1d-4c55-8a0e-2f6f1f0b9a11",
		Authority: "shop.example.com", UpstreamHost: "10.1.2.3:8080",
		UpstreamCluster: "outbound|8080||web.shop.svc.cluster.local", UpstreamLocal: "10.0.0.5:40112",
		DownstreamLocal: "10.0.0.5:8443", DownstreamRemote: "192.0.2.10:51234",
		SNI: "shop.example.com", RouteName: "web",
	}
}

// localEntry is a local reply: no upstream.
func localEntry(code int, flags, details string, sent int64) *Entry {
	return &Entry{
		Start: testStart, Method: "GET", Path: "/nope", Protocol: "HTTP/1.1",
		Code: code, Flags: flags, Details: details, BytesSent: sent, Duration: 300 * time.Microsecond,
		UpstreamServiceTime: -1, XFF: "192.0.2.10", UserAgent: "curl/8.5.0", RequestID: "req-1",
		Authority: "shop.example.com", DownstreamLocal: "10.0.0.5:8080", DownstreamRemote: "192.0.2.10:51234",
	}
}

type golden struct {
	name       string
	e          *Entry
	text, json string
}

func goldens() []golden {
	nr := localEntry(404, "NR", "route_not_found", 0)

	uf := proxied()
	uf.Code, uf.Flags, uf.Details = 503, "UF,URX", "upstream_reset_before_response_started{remote_connection_failure}"
	uf.TransportFailure, uf.BytesSent, uf.UpstreamServiceTime, uf.UpstreamLocal = "delayed_connect_error:_111", 91, -1, ""

	ut := proxied()
	ut.Method, ut.Path, ut.BytesReceived = "POST", "/api/orders", 1024
	ut.Code, ut.Flags, ut.Details, ut.BytesSent = 504, "UT", "response_timeout", 24
	ut.Duration, ut.UpstreamServiceTime = 15*time.Second+2*time.Millisecond, -1

	rbac := localEntry(403, "", "rbac_access_denied_matched_policy[ns[shop]-policy[deny-bots]-rule[0]]", 19)
	rbac.Path, rbac.Policy, rbac.RouteName, rbac.SNI = "/admin", "shop/deny-bots", "web", "shop.example.com"
	rbac.DownstreamLocal = "10.0.0.5:8443"

	dc := proxied()
	dc.Code, dc.Flags, dc.Details, dc.BytesSent = 0, "DC", "downstream_remote_disconnect", 0
	dc.Protocol, dc.Duration, dc.UpstreamServiceTime = "HTTP/2", 30*time.Second, -1

	tcp := &Entry{
		Start: testStart, BytesReceived: 1200, BytesSent: 3400, Duration: 5012 * time.Millisecond, UpstreamServiceTime: -1,
		UpstreamHost: "10.1.2.9:5432", UpstreamCluster: "outbound|5432||db.shop.svc.cluster.local",
		UpstreamLocal: "10.0.0.5:40200", DownstreamLocal: "10.0.0.5:5432", DownstreamRemote: "192.0.2.10:50000",
		SNI: "db.example.com",
	}

	return []golden{
		{"200 proxied", proxied(),
			`[2026-11-25T13:40:00.123Z] "GET /index.html?q=1 HTTP/1.1" 200 - via_upstream - "-" 0 612 12 11 "192.0.2.10" "curl/8.5.0" "7f3c1a2e-9b1d-4c55-8a0e-2f6f1f0b9a11" "shop.example.com" "10.1.2.3:8080" outbound|8080||web.shop.svc.cluster.local 10.0.0.5:40112 10.0.0.5:8443 192.0.2.10:51234 shop.example.com web`,
			`{"authority":"shop.example.com","bytes_received":0,"bytes_sent":612,"connection_termination_details":null,"downstream_local_address":"10.0.0.5:8443","downstream_remote_address":"192.0.2.10:51234","duration":12,"method":"GET","path":"/index.html?q=1","protocol":"HTTP/1.1","request_id":"7f3c1a2e-9b1d-4c55-8a0e-2f6f1f0b9a11","requested_server_name":"shop.example.com","response_code":200,"response_code_details":"via_upstream","response_flags":"-","route_name":"web","start_time":"2026-11-25T13:40:00.123Z","upstream_cluster":"outbound|8080||web.shop.svc.cluster.local","upstream_host":"10.1.2.3:8080","upstream_local_address":"10.0.0.5:40112","upstream_service_time":"11","upstream_transport_failure_reason":null,"user_agent":"curl/8.5.0","x_forwarded_for":"192.0.2.10"}`},
		{"404 NR", nr,
			`[2026-11-25T13:40:00.123Z] "GET /nope HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "192.0.2.10" "curl/8.5.0" "req-1" "shop.example.com" "-" - - 10.0.0.5:8080 192.0.2.10:51234 - -`,
			`{"authority":"shop.example.com","bytes_received":0,"bytes_sent":0,"connection_termination_details":null,"downstream_local_address":"10.0.0.5:8080","downstream_remote_address":"192.0.2.10:51234","duration":0,"method":"GET","path":"/nope","protocol":"HTTP/1.1","request_id":"req-1","requested_server_name":null,"response_code":404,"response_code_details":"route_not_found","response_flags":"NR","route_name":null,"start_time":"2026-11-25T13:40:00.123Z","upstream_cluster":null,"upstream_host":null,"upstream_local_address":null,"upstream_service_time":null,"upstream_transport_failure_reason":null,"user_agent":"curl/8.5.0","x_forwarded_for":"192.0.2.10"}`},
		{"503 UF", uf,
			`[2026-11-25T13:40:00.123Z] "GET /index.html?q=1 HTTP/1.1" 503 UF,URX upstream_reset_before_response_started{remote_connection_failure} - "delayed_connect_error:_111" 0 91 12 - "192.0.2.10" "curl/8.5.0" "7f3c1a2e-9b1d-4c55-8a0e-2f6f1f0b9a11" "shop.example.com" "10.1.2.3:8080" outbound|8080||web.shop.svc.cluster.local - 10.0.0.5:8443 192.0.2.10:51234 shop.example.com web`,
			`{"authority":"shop.example.com","bytes_received":0,"bytes_sent":91,"connection_termination_details":null,"downstream_local_address":"10.0.0.5:8443","downstream_remote_address":"192.0.2.10:51234","duration":12,"method":"GET","path":"/index.html?q=1","protocol":"HTTP/1.1","request_id":"7f3c1a2e-9b1d-4c55-8a0e-2f6f1f0b9a11","requested_server_name":"shop.example.com","response_code":503,"response_code_details":"upstream_reset_before_response_started{remote_connection_failure}","response_flags":"UF,URX","route_name":"web","start_time":"2026-11-25T13:40:00.123Z","upstream_cluster":"outbound|8080||web.shop.svc.cluster.local","upstream_host":"10.1.2.3:8080","upstream_local_address":null,"upstream_service_time":null,"upstream_transport_failure_reason":"delayed_connect_error:_111","user_agent":"curl/8.5.0","x_forwarded_for":"192.0.2.10"}`},
		{"504 UT", ut,
			`[2026-11-25T13:40:00.123Z] "POST /api/orders HTTP/1.1" 504 UT response_timeout - "-" 1024 24 15002 - "192.0.2.10" "curl/8.5.0" "7f3c1a2e-9b1d-4c55-8a0e-2f6f1f0b9a11" "shop.example.com" "10.1.2.3:8080" outbound|8080||web.shop.svc.cluster.local 10.0.0.5:40112 10.0.0.5:8443 192.0.2.10:51234 shop.example.com web`,
			`{"authority":"shop.example.com","bytes_received":1024,"bytes_sent":24,"connection_termination_details":null,"downstream_local_address":"10.0.0.5:8443","downstream_remote_address":"192.0.2.10:51234","duration":15002,"method":"POST","path":"/api/orders","protocol":"HTTP/1.1","request_id":"7f3c1a2e-9b1d-4c55-8a0e-2f6f1f0b9a11","requested_server_name":"shop.example.com","response_code":504,"response_code_details":"response_timeout","response_flags":"UT","route_name":"web","start_time":"2026-11-25T13:40:00.123Z","upstream_cluster":"outbound|8080||web.shop.svc.cluster.local","upstream_host":"10.1.2.3:8080","upstream_local_address":"10.0.0.5:40112","upstream_service_time":null,"upstream_transport_failure_reason":null,"user_agent":"curl/8.5.0","x_forwarded_for":"192.0.2.10"}`},
		{"403 RBAC", rbac,
			`[2026-11-25T13:40:00.123Z] "GET /admin HTTP/1.1" 403 - rbac_access_denied_matched_policy[ns[shop]-policy[deny-bots]-rule[0]] - "-" 0 19 0 - "192.0.2.10" "curl/8.5.0" "req-1" "shop.example.com" "-" - - 10.0.0.5:8443 192.0.2.10:51234 shop.example.com web`,
			`{"authority":"shop.example.com","authorization_policy":"shop/deny-bots","bytes_received":0,"bytes_sent":19,"connection_termination_details":null,"downstream_local_address":"10.0.0.5:8443","downstream_remote_address":"192.0.2.10:51234","duration":0,"method":"GET","path":"/admin","protocol":"HTTP/1.1","request_id":"req-1","requested_server_name":"shop.example.com","response_code":403,"response_code_details":"rbac_access_denied_matched_policy[ns[shop]-policy[deny-bots]-rule[0]]","response_flags":"-","route_name":"web","start_time":"2026-11-25T13:40:00.123Z","upstream_cluster":null,"upstream_host":null,"upstream_local_address":null,"upstream_service_time":null,"upstream_transport_failure_reason":null,"user_agent":"curl/8.5.0","x_forwarded_for":"192.0.2.10"}`},
		{"client disconnect", dc,
			`[2026-11-25T13:40:00.123Z] "GET /index.html?q=1 HTTP/2" 0 DC downstream_remote_disconnect - "-" 0 0 30000 - "192.0.2.10" "curl/8.5.0" "7f3c1a2e-9b1d-4c55-8a0e-2f6f1f0b9a11" "shop.example.com" "10.1.2.3:8080" outbound|8080||web.shop.svc.cluster.local 10.0.0.5:40112 10.0.0.5:8443 192.0.2.10:51234 shop.example.com web`,
			`{"authority":"shop.example.com","bytes_received":0,"bytes_sent":0,"connection_termination_details":null,"downstream_local_address":"10.0.0.5:8443","downstream_remote_address":"192.0.2.10:51234","duration":30000,"method":"GET","path":"/index.html?q=1","protocol":"HTTP/2","request_id":"7f3c1a2e-9b1d-4c55-8a0e-2f6f1f0b9a11","requested_server_name":"shop.example.com","response_code":0,"response_code_details":"downstream_remote_disconnect","response_flags":"DC","route_name":"web","start_time":"2026-11-25T13:40:00.123Z","upstream_cluster":"outbound|8080||web.shop.svc.cluster.local","upstream_host":"10.1.2.3:8080","upstream_local_address":"10.0.0.5:40112","upstream_service_time":null,"upstream_transport_failure_reason":null,"user_agent":"curl/8.5.0","x_forwarded_for":"192.0.2.10"}`},
		{"tcp", tcp,
			`[2026-11-25T13:40:00.123Z] "- - -" 0 - - - "-" 1200 3400 5012 - "-" "-" "-" "-" "10.1.2.9:5432" outbound|5432||db.shop.svc.cluster.local 10.0.0.5:40200 10.0.0.5:5432 192.0.2.10:50000 db.example.com -`,
			`{"authority":null,"bytes_received":1200,"bytes_sent":3400,"connection_termination_details":null,"downstream_local_address":"10.0.0.5:5432","downstream_remote_address":"192.0.2.10:50000","duration":5012,"method":null,"path":null,"protocol":null,"request_id":null,"requested_server_name":"db.example.com","response_code":0,"response_code_details":null,"response_flags":"-","route_name":null,"start_time":"2026-11-25T13:40:00.123Z","upstream_cluster":"outbound|5432||db.shop.svc.cluster.local","upstream_host":"10.1.2.9:5432","upstream_local_address":"10.0.0.5:40200","upstream_service_time":null,"upstream_transport_failure_reason":null,"user_agent":null,"x_forwarded_for":null}`},
	}
}

func TestAccessLogDefaultGolden(t *testing.T) {
	text, err := NewFormat("", "")
	if err != nil {
		t.Fatal(err)
	}
	js, err := NewFormat("JSON", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens() {
		t.Run(g.name, func(t *testing.T) {
			if got := string(text.Append(nil, g.e)); got != g.text+"\n" {
				t.Errorf("TEXT\n got %s\nwant %s", got, g.text)
			}
			got := string(js.Append(nil, g.e))
			if got != g.json+"\n" {
				t.Errorf("JSON\n got %s\nwant %s", got, g.json)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("JSON line is not valid JSON: %s", got)
			}
			if m := istioTextRE.FindStringSubmatch(string(text.Append(nil, g.e))); m == nil {
				t.Errorf("TEXT line does not parse as Istio's default format")
			}
		})
	}
}

// The JSON default has Istio's key set (plus authorization_policy when
// set), in Envoy's output order: sorted.
func TestAccessLogDefaultJSONKeys(t *testing.T) {
	js, _ := NewFormat("JSON", "")
	e := proxied()
	e.Policy = "ns/p"
	line := js.Append(nil, e)
	d := json.NewDecoder(strings.NewReader(string(line)))
	var keys []string
	d.Token() // {
	for d.More() {
		k, _ := d.Token()
		keys = append(keys, k.(string))
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	want := "authority authorization_policy bytes_received bytes_sent connection_termination_details " +
		"downstream_local_address downstream_remote_address duration method path protocol request_id " +
		"requested_server_name response_code response_code_details response_flags route_name start_time " +
		"upstream_cluster upstream_host upstream_local_address upstream_service_time " +
		"upstream_transport_failure_reason user_agent x_forwarded_for"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("keys\n got %s\nwant %s", got, want)
	}
}

// istioTextRE parses Istio's default TEXT line the way log pipelines do:
// space-separated fields, some in "..." with backslash escapes.
var istioTextRE = regexp.MustCompile(`^\[(\S+)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) (\S+) "((?:[^"\\]|\\.)*)" ` +
	`(\d+) (\d+) (\d+) (\S+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" ` +
	`"((?:[^"\\]|\\.)*)" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\n$`)
