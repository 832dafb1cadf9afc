package tls

import (
	"crypto/tls"
	"sync"
	"testing"
)

// anyNameCache hands the last session it stored to every server name: the
// behaviour of a client that replays a ticket from one virtual host against
// another (CVE-2025-68121, CVE-2025-23419).
type anyNameCache struct {
	mu   sync.Mutex
	last *tls.ClientSessionState
}

func (c *anyNameCache) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.last != nil
}

func (c *anyNameCache) Put(_ string, s *tls.ClientSessionState) {
	if s == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = s
}

// security.md TLS-04: session resumption across TLS policies. A ticket
// from a SIMPLE server (or a client cache that replays it under any name)
// never resumes at a server of another policy: a MUTUAL server runs a full
// handshake and demands a certificate; servers that request client
// certificates issue no tickets; a reload, and a reload that changes a
// MUTUAL server's CA, resume nothing from before it.
func TestTLS04SessionResumptionAcrossPolicies(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	settings := []ServerSettings{
		simple(p.a, "p.example.com"),
		simple(p.b, "q.example.com"),
		p.mutual(Mutual, p.a, "s.example.com"),
		p.mutual(OptionalMutual, p.a, "o.example.com"),
	}
	srv := startServer(t, mustStore(t, settings...))
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			client := func(sni string, cache tls.ClientSessionCache, cert *files) *tls.Config {
				cfg := p.clientCfg(sni, cert)
				cfg.InsecureSkipVerify = true // one session, several names
				cfg.MinVersion, cfg.MaxVersion = version, version
				cfg.ClientSessionCache = cache
				return cfg
			}
			mustResume := func(cache tls.ClientSessionCache, sni string, want bool) {
				t.Helper()
				if _, cs, err := dial(srv.addr, client(sni, cache, nil)); err != nil || cs.DidResume != want {
					t.Fatalf("%s: DidResume %v, err %v; want resumed=%v", sni, cs.DidResume, err, want)
				}
			}

			// Control: the same server resumes, so the cache works.
			cache := &anyNameCache{}
			mustResume(cache, "p.example.com", false)
			mustResume(cache, "p.example.com", true)

			// Another SIMPLE server has its own ticket keys.
			mustResume(cache, "q.example.com", false)

			// A MUTUAL server never accepts the SIMPLE server's ticket: the
			// handshake demands a certificate.
			cache = &anyNameCache{}
			mustResume(cache, "p.example.com", false)
			if line, cs, err := dial(srv.addr, client("s.example.com", cache, nil)); err == nil {
				t.Fatalf("MUTUAL server accepted a client without a certificate (resumed=%v, %q)", cs.DidResume, line)
			}
			line, cs, err := dial(srv.addr, client("s.example.com", cache, &p.client))
			if err != nil || cs.DidResume {
				t.Fatalf("MUTUAL with certificate: resumed=%v err=%v, want a full handshake", cs.DidResume, err)
			}
			if line != "server=2 peer=client\n" {
				t.Errorf("MUTUAL server saw %q", line)
			}

			// Servers that request client certificates issue no tickets.
			cache = &anyNameCache{}
			for range 2 {
				if _, cs, err := dial(srv.addr, client("o.example.com", cache, &p.client)); err != nil || cs.DidResume {
					t.Fatalf("OPTIONAL_MUTUAL: resumed=%v err=%v", cs.DidResume, err)
				}
			}
			if cache.last != nil {
				t.Error("OPTIONAL_MUTUAL server issued a session ticket")
			}

			// A reload (new Store, same settings) does not resume old sessions.
			cache = &anyNameCache{}
			mustResume(cache, "p.example.com", false)
			old := srv.store.Load()
			srv.store.Store(mustStore(t, settings...))
			t.Cleanup(func() { srv.store.Store(old) })
			mustResume(cache, "p.example.com", false)
			mustResume(cache, "p.example.com", true)

			// A reload that makes the MUTUAL server trust another CA: the
			// certificate the old CA issued is refused, with a full
			// handshake, even holding a ticket from before the reload.
			cache = &anyNameCache{}
			mustResume(cache, "p.example.com", false)
			if _, cs, err := dial(srv.addr, client("s.example.com", cache, &p.client)); err != nil || cs.DidResume {
				t.Fatalf("MUTUAL before the CA change: resumed=%v err=%v", cs.DidResume, err)
			}
			changed := append([]ServerSettings{}, settings...)
			changed[2].CAFile = p.otherCA.file
			srv.store.Store(mustStore(t, changed...))
			if line, cs, err := dial(srv.addr, client("s.example.com", cache, &p.client)); err == nil || cs.DidResume {
				t.Fatalf("after the CA change the old CA's client got %q (resumed=%v)", line, cs.DidResume)
			}
			if line, cs, err := dial(srv.addr, client("s.example.com", cache, &p.other)); err != nil || cs.DidResume || line != "server=2 peer=other\n" {
				t.Fatalf("after the CA change the new CA's client: %q resumed=%v err=%v", line, cs.DidResume, err)
			}
			srv.store.Store(old)
		})
	}
}
