package authz

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"
)

// errNeverMatches marks a key that is valid in Istio but that gatehouse
// can never observe; conditions on it never match positively.
var errNeverMatches = errors.New("gatehouse has no such attribute, so this condition never matches")

// condition compiles one "when" entry into a values and/or a notValues
// condition.
func (c *compiler) condition(path string, k int, w *Condition) []cond {
	if w == nil {
		c.errf(path, "must not be null")
		return nil
	}
	if len(w.Values) == 0 && len(w.NotValues) == 0 {
		c.errf(path, "at least one of values or notValues must be set")
	}
	base, err := parseKey(w.Key, false)
	switch {
	case errors.Is(err, errNeverMatches):
		c.warnf(path+".key", "%s: %v", w.Key, err)
	case err != nil:
		c.errf(path+".key", "%v", err)
		return nil
	}
	var out []cond
	for _, side := range []struct {
		name string
		vs   []string
		not  bool
	}{{"values", w.Values, false}, {"notValues", w.NotValues, true}} {
		if len(side.vs) == 0 {
			continue
		}
		cd := base
		cd.not = side.not
		cd.field = fmt.Sprintf("when[%d] %s %s", k, w.Key, side.name)
		if c.fill(path+"."+side.name, &cd, side.vs, "") {
			out = append(out, cd)
		}
	}
	return out
}

// parseKey maps a "when" key (istio-api.md 8.3) to the kind of condition
// that evaluates it. legacy accepts the v1alpha1 destination.* keys of
// ServiceRole constraints.
func parseKey(key string, legacy bool) (cond, error) {
	switch key {
	case "":
		return cond{}, errors.New("key is required")
	case "source.ip":
		return cond{kind: kSourceIP}, nil
	case "remote.ip":
		return cond{kind: kRemoteIP}, nil
	case "source.namespace":
		return cond{kind: kNamespace}, nil
	case "source.principal":
		return cond{kind: kPrincipal}, nil
	case "source.serviceAccount":
		return cond{kind: kServiceAccount}, nil
	case "source.trustDomain":
		return cond{kind: kTrustDomain}, nil
	case "request.auth.principal":
		return cond{kind: kReqPrincipal}, nil
	case "request.auth.audiences":
		return cond{kind: kAudience}, nil
	case "request.auth.presenter":
		return cond{kind: kPresenter}, nil
	case "destination.ip":
		return cond{kind: kDestIP}, nil
	case "destination.port":
		return cond{kind: kDestPort}, nil
	case "connection.sni":
		return cond{kind: kSNI}, nil
	}
	return parseMapKey(key, legacy)
}

// parseMapKey handles the keys with a [...] part and the retired ones.
func parseMapKey(key string, legacy bool) (cond, error) {
	switch {
	case strings.HasPrefix(key, "request.headers"):
		parts, err := bracketParts(key, "request.headers")
		if err != nil || len(parts) != 1 || !validHeaderName(parts[0]) {
			return cond{}, fmt.Errorf("invalid key %q: want request.headers[<header name>]", key)
		}
		return headerCond(parts[0]), nil
	case strings.HasPrefix(key, "request.auth.claims"):
		parts, err := bracketParts(key, "request.auth.claims")
		if err != nil {
			return cond{}, fmt.Errorf("invalid key %q: want request.auth.claims[<claim>] or request.auth.claims[<a>][<b>]", key)
		}
		return cond{kind: kClaim, claim: parts}, nil
	case strings.HasPrefix(key, "experimental.envoy.filters."):
		if !strings.HasSuffix(key, "]") || !strings.Contains(key, "[") {
			return cond{}, fmt.Errorf("invalid key %q: want experimental.envoy.filters.<filter>[<key>]", key)
		}
		return cond{kind: kNever}, errNeverMatches
	case legacy && key == "destination.name":
		return cond{kind: kDestName}, nil
	case legacy && key == "destination.namespace":
		return cond{kind: kDestNamespace}, nil
	case legacy && (key == "destination.user" || strings.HasPrefix(key, "destination.labels[")):
		return cond{kind: kNever}, errNeverMatches
	case key == "destination.name", key == "destination.namespace", key == "destination.user",
		strings.HasPrefix(key, "destination.labels"):
		return cond{}, fmt.Errorf("attribute %s is no longer supported", key)
	}
	return cond{}, fmt.Errorf("unknown attribute: %s", key)
}

// headerCond builds a request.headers[name] condition. Go keeps Host and
// the HTTP/2 pseudo-headers out of http.Header, so those read the request.
func headerCond(name string) cond {
	switch strings.ToLower(name) {
	case ":authority", "host":
		return cond{kind: kHeader, pseudo: pseudoAuthority}
	case ":method":
		return cond{kind: kHeader, pseudo: pseudoMethod}
	case ":path":
		return cond{kind: kHeader, pseudo: pseudoPath}
	case ":scheme":
		return cond{kind: kHeader, pseudo: pseudoScheme}
	}
	return cond{kind: kHeader, header: textproto.CanonicalMIMEHeaderKey(name)}
}

// bracketParts parses "<prefix>[a][b]..." into ["a", "b"].
func bracketParts(key, prefix string) ([]string, error) {
	rest := strings.TrimPrefix(key, prefix)
	var parts []string
	for rest != "" {
		if rest[0] != '[' {
			return nil, errors.New("malformed key")
		}
		end := strings.IndexByte(rest, ']')
		if end <= 1 || strings.IndexByte(rest[1:end], '[') >= 0 {
			return nil, errors.New("malformed key")
		}
		parts = append(parts, rest[1:end])
		rest = rest[end+1:]
	}
	if len(parts) == 0 {
		return nil, errors.New("malformed key")
	}
	return parts, nil
}

// validHeaderName reports whether k is an HTTP token, or a pseudo-header.
func validHeaderName(k string) bool {
	k = strings.TrimPrefix(k, ":")
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
