package tls

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// Handshakes that match no server fail with one of these errors; crypto/tls
// then sends an alert and closes the connection.
var (
	// ErrNoSNI means the client sent no SNI (or an IP address) and no
	// server accepts any name ("*").
	ErrNoSNI = errors.New("client sent no server name and no TLS server accepts any name")
	// ErrUnknownSNI means no server is configured for the client's SNI.
	ErrUnknownSNI = errors.New("no TLS server is configured for the requested server name")
	// ErrInvalidSNI means the server name holds bytes no host name has
	// (crypto/tls passes any bytes on): such a name could carry a CR LF
	// into a header built from it.
	ErrInvalidSNI = errors.New("the requested server name is not a host name")
)

// Store holds the compiled TLS servers of one configuration generation. It
// is immutable after NewStore and safe for concurrent use; reloading means
// building a new Store.
type Store struct {
	configs  []*tls.Config  // by index into the servers given to NewStore; nil if skipped
	policies []string       // by the same index: see policyKey
	exact    map[string]int // lower-case name -> index
	wildcard map[string]int // suffix after the '*' (".example.com") -> index
	fallback int            // the server whose names contain "*", or -1
}

// NewStore loads and validates every server. It reads all files here, so
// handshakes never touch the disk. Problems come back as *api.FieldError
// values under each server's Path; the ones that do not stop the load are
// wrapped with api.Warning. The Store is nil only if at least one error is
// not a warning.
//
// A server that repeats a name of an earlier server is skipped with a
// warning (first wins, as Istio's CheckDuplicates). Every server gets its
// own session ticket keys, fresh for each Store, so sessions never resume
// across servers or across reloads; MUTUAL and OPTIONAL_MUTUAL servers
// issue no tickets at all.
func NewStore(servers []ServerSettings) (*Store, []error) {
	return newStore(servers, time.Now())
}

func newStore(servers []ServerSettings, now time.Time) (*Store, []error) {
	s := &Store{
		configs:  make([]*tls.Config, len(servers)),
		policies: make([]string, len(servers)),
		exact:    make(map[string]int),
		wildcard: make(map[string]int),
		fallback: -1,
	}
	var errs []error
	for i := range servers {
		srv := &servers[i]
		names, nerrs := s.claimNames(srv)
		errs = append(errs, nerrs...)
		if names == nil {
			continue
		}
		var key [32]byte
		rand.Read(key[:]) // never fails since Go 1.24
		cfg, berrs := buildServer(srv, key, now)
		errs = append(errs, berrs...)
		s.configs[i] = cfg
		s.policies[i] = policyKey(srv)
		s.index(names, i)
	}
	if hasError(errs) {
		return nil, errs
	}
	return s, errs
}

// claimNames validates and normalises the names of srv. It returns nil if
// the server must not be indexed: its names are invalid, or one of them
// belongs to an earlier server.
func (s *Store) claimNames(srv *ServerSettings) ([]string, []error) {
	if len(srv.Names) == 0 {
		return nil, []error{api.Errorf(srv.Path, "server has no host names")}
	}
	var names, dups []string
	seen := make(map[string]bool, len(srv.Names))
	for _, n := range srv.Names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if !validPattern(n) {
			return nil, []error{api.Errorf(srv.Path, "invalid server name %q: want a.example.com, *.example.com or *", n)}
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		if s.taken(n) {
			dups = append(dups, n)
		}
		names = append(names, n)
	}
	if len(dups) > 0 {
		return nil, []error{api.Warning(api.Errorf(srv.Path,
			"server skipped: host %s already used by an earlier TLS server on this port (first wins)", strings.Join(dups, ", ")))}
	}
	return names, nil
}

func validPattern(n string) bool {
	if n == "*" {
		return true
	}
	rest, _ := strings.CutPrefix(n, "*.")
	return rest != "" && rest[0] != '.' && !strings.ContainsAny(rest, "*/ ")
}

func (s *Store) taken(n string) bool {
	switch {
	case n == "*":
		return s.fallback >= 0
	case n[0] == '*':
		_, ok := s.wildcard[n[1:]]
		return ok
	}
	_, ok := s.exact[n]
	return ok
}

func (s *Store) index(names []string, i int) {
	for _, n := range names {
		switch {
		case n == "*":
			s.fallback = i
		case n[0] == '*':
			s.wildcard[n[1:]] = i
		default:
			s.exact[n] = i
		}
	}
}

// GetConfigForClient returns the prebuilt configuration of the server that
// the client's SNI selects; use it as tls.Config.GetConfigForClient. It
// fails the handshake with ErrNoSNI or ErrUnknownSNI when no server matches,
// and with ErrInvalidSNI for a name that is not a host name.
func (s *Store) GetConfigForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if hello.ServerName != "" && !validSNI([]byte(hello.ServerName)) {
		return nil, ErrInvalidSNI
	}
	i, ok := s.Server(hello.ServerName)
	if ok {
		return s.configs[i], nil
	}
	if _, named := normalizeSNI(hello.ServerName); named {
		return nil, ErrUnknownSNI
	}
	return nil, ErrNoSNI
}

// Server returns the index, into the servers given to NewStore, of the
// server that sni selects, as Envoy selects a filter chain: the name is
// lower-cased and one trailing dot dropped; an exact name wins, then the
// most specific wildcard ("a.b.c" tries "*.b.c", then "*.c"), then the
// server that accepts any name. An empty SNI or an IP address selects only
// the server that accepts any name. ok is false when nothing matches.
func (s *Store) Server(sni string) (index int, ok bool) {
	if s == nil {
		return -1, false
	}
	name, named := normalizeSNI(sni)
	if named {
		if i, ok := s.exact[name]; ok {
			return i, true
		}
		// A wildcard needs at least one label before it, so start at the
		// first dot that has something in front.
		for i := strings.IndexByte(name, '.'); i > 0; {
			if j, ok := s.wildcard[name[i:]]; ok {
				return j, true
			}
			next := strings.IndexByte(name[i+1:], '.')
			if next < 0 {
				break
			}
			i += 1 + next
		}
	}
	return s.fallback, s.fallback >= 0
}

// normalizeSNI lower-cases sni and drops one trailing dot. named is false
// when the client effectively sent no name: empty, or an IP literal.
func normalizeSNI(sni string) (name string, named bool) {
	name = strings.ToLower(strings.TrimSuffix(sni, "."))
	if name == "" {
		return "", false
	}
	if last := name[len(name)-1]; strings.IndexByte(name, ':') >= 0 || ('0' <= last && last <= '9') || last == ']' {
		if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
			return "", false
		}
	}
	return name, true
}
