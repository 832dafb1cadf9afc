package listener

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
)

func hexBytes(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzProxyHeader feeds arbitrary bytes to the PROXY header path: it never
// panics, and a connection it accepts reports the header's address.
func FuzzProxyHeader(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP6 ::1 ::1 1 2\r\n", "PROXY UNKNOWN\r\n",
		"PROXY TCP6 fe80::1%eth0 ::1 1 80\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Add(hexBytes("0D0A0D0A000D0A515549540A 21 11 0014 7F000001 7F000001 002A 0539 020005 3132333435"))
	f.Add(hexBytes("0D0A0D0A000D0A515549540A 21 11 0014 7F000001 7F000001 002A 0539 020004 31323334"))
	f.Add(hexBytes("0D0A0D0A000D0A515549540A 20 11 000C 0A0A0A0A 0A000002 15B3 0050"))
	f.Add(append(hexBytes("0D0A0D0A000D0A515549540A 21 31 00D8"), make([]byte, 216)...)) // AF_UNIX stream
	f.Add(hexBytes("0D0A0D0A000D0A515549540A 21 12 000C 7F000001 7F000001 002A 0539"))   // UDP over IPv4
	f.Fuzz(func(t *testing.T, data []byte) {
		server, client := net.Pipe()
		defer client.Close()
		go func() {
			client.Write(data)
			client.Close()
		}()
		p := &mesh.ProxySettings{Timeout: 100 * time.Millisecond}
		hc, reason, err := ReadProxyHeader(server, p)
		if err != nil {
			if reason == "" {
				t.Errorf("refused without a reason: %v", err)
			}
			return
		}
		defer hc.Close()
		if bytes.HasPrefix(data, []byte("PROXY TCP4 ")) && hc.RemoteAddr() == nil {
			t.Error("accepted a v1 header without an address")
		}
		// PP-07: the client of a TCP connection is a TCP address, or the
		// socket peer; never a Unix socket path or a UDP address.
		switch a := hc.RemoteAddr().(type) {
		case *net.TCPAddr:
		default:
			if a.Network() != "pipe" {
				t.Errorf("accepted a PROXY header whose client is %T %v", a, a)
			}
		}
		io.Copy(io.Discard, hc)
	})
}
