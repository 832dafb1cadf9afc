package gateway

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/pires/go-proxyproto"
)

// security.md PP-07: a PROXY v2 header from a trusted peer whose source is
// a Unix socket (AF_UNIX) or a UDP address, on a TCP listener, closes the
// connection with no response: the upstream never sees a path as the
// client's address. TCP over IPv4 and IPv6, LOCAL and v1 UNKNOWN pass.
func TestPP07ProxyHeaderFamilies(t *testing.T) {
	t.Parallel()
	g := startGW(t, proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1", gatehouse.io/proxy-protocol-timeout: 300ms`))
	addr := g.srv.Addr(80).String()
	unix := func(typ proxyproto.AddressFamilyAndProtocol) []byte {
		h := &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: typ,
			SourceAddr: &net.UnixAddr{Name: "/tmp/attacker.sock", Net: "unix"}, DestinationAddr: &net.UnixAddr{Name: "/tmp/gw.sock", Net: "unix"}}
		return header(t, h)
	}
	udp := hexBytes("0D0A0D0A000D0A515549540A 21 12 000C CB007107 0A000001 15B3 0050") // UDP, 203.0.113.7
	for _, tc := range []struct {
		name   string
		header []byte
		want   string
	}{
		{"AF_UNIX stream", unix(proxyproto.UnixStream), ""},
		{"AF_UNIX datagram", unix(proxyproto.UnixDatagram), ""},
		{"UDP over IPv4", udp, ""},
		{"TCP over IPv4", []byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n"), "200 203.0.113.7"},
		{"v1 UNKNOWN uses the socket peer", []byte("PROXY UNKNOWN\r\n"), "200 127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := rawExchange(t, addr, "", append(tc.header, get("a.example.com")...))
			switch {
			case tc.want == "" && out != "":
				t.Errorf("got %q, want the connection closed without a response", out)
			case tc.want != "" && bodyOf(t, out) != tc.want:
				t.Errorf("got %q, want %q", out, tc.want)
			}
		})
	}
	fams := scrape(t, g, "/metrics")
	if n := value(t, fams, "gatehouse_proxy_protocol_refused_total", "reason=unsupported_family"); n != 3 {
		t.Errorf("refusals counted as unsupported_family: %v, want 3", n)
	}
}

// Every connection refused at its PROXY header is counted by reason and
// logged at warn with the peer's address; a peer that closes without
// sending anything (a load balancer's health check) only at debug.
func TestProxyRefusalsLoggedAndCounted(t *testing.T) {
	t.Parallel()
	g := startGW(t, proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1", gatehouse.io/proxy-protocol-timeout: 200ms`))
	addr := g.srv.Addr(80).String()
	sends := []struct{ from, data, reason string }{
		{"127.0.0.2", "PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\n" + get("a"), listener.ProxyUntrusted},
		{"", get("a"), listener.ProxyMissing},
		{"", "PROXY TCP4 1.2.3.4\r\n" + get("a"), listener.ProxyMalformed},
		{"", "PROX", listener.ProxyTimeout},
		{"", "", listener.ProxyClosedEarly},
	}
	for _, s := range sends {
		if s.data == "" {
			// A health check: connect, then close at once.
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if out, _ := io.ReadAll(c); len(out) > 0 {
				t.Errorf("%s: got %q, want no response", s.reason, out)
			}
			c.Close()
			continue
		}
		if out, _ := rawExchange(t, addr, s.from, []byte(s.data)); out != "" {
			t.Errorf("%s: got %q, want no response", s.reason, out)
		}
	}
	// A refusal is counted as its connection closes, which the client
	// may see first: wait for the counts to settle.
	counted := func() (string, float64) {
		fams := scrape(t, g, "/metrics")
		for _, s := range sends {
			ss := series(fams, "gatehouse_proxy_protocol_refused_total", "reason="+s.reason)
			if len(ss) != 1 || ss[0].Counter.GetValue() != 1 {
				return s.reason, float64(len(ss))
			}
		}
		return "", 1
	}
	for wait := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		reason, n := counted()
		if reason == "" {
			break
		}
		if time.Now().After(wait) {
			t.Errorf("reason %s: %v series or a count other than 1, want one series counting 1", reason, n)
			break
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		logs := g.logs.String()
		ok := true
		for _, s := range sends {
			level := "WARN"
			if s.reason == listener.ProxyClosedEarly {
				level = "DEBUG"
			}
			if !strings.Contains(logs, "level="+level+" msg=") || !strings.Contains(logs, "reason="+s.reason) {
				ok = false
			}
		}
		if strings.Count(logs, `level=WARN msg="connection refused at its PROXY protocol header"`) != 4 ||
			!strings.Contains(logs, "peer=127.0.0.2:") {
			ok = false
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refusals not logged as expected:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// security.md CIP-07: trust configuration errors fail closed. An invalid
// CIDR is an error; a CIDR that covers every address is an error too,
// since trusting every peer must be asked for by name ("any"), which
// loads with a warning and then honours any peer's header.
func TestCIP07TrustedCIDRs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value, problem string
		warning        bool
	}{
		{"10.0.0.0/33", "10.0.0.0/33", false},
		{"0.0.0.0/0", `0.0.0.0/0 trusts every peer to send PROXY headers, which lets any client choose its own address; list your load balancers' addresses, or write "any" to trust every peer on purpose`, false},
		{"10.0.0.1, ::/0", "::/0 trusts every peer", false},
		{"any", "any: every peer may send PROXY headers and so choose its own client address", true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			files := proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "`+tc.value+`"`)
			_, problems, _, err := checkDir(t, files)
			if (err == nil) != tc.warning {
				t.Fatalf("Check: %v", err)
			}
			found := false
			for _, p := range problems {
				found = found || (strings.Contains(p.String(), "envoyfilter.yaml:") && strings.Contains(p.String(), tc.problem) && p.Warning == tc.warning)
			}
			if !found {
				t.Fatalf("problems %v; want one (warning %v) at envoyfilter.yaml containing %q", problems, tc.warning, tc.problem)
			}
		})
	}
	g := startGW(t, proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "any"`))
	out, _ := rawExchange(t, g.srv.Addr(80).String(), "127.0.0.2", []byte("PROXY TCP4 192.0.2.4 10.0.0.1 1 80\r\n"+get("a")))
	if bodyOf(t, out) != "200 192.0.2.4" {
		t.Errorf("with any, a header from 127.0.0.2: %q", out)
	}
}
