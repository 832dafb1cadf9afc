package tls

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// versions maps Istio TLSProtocol names to crypto/tls versions; TLS_AUTO
// maps to 0 and is resolved by versionRange.
var versions = map[string]uint16{
	"":         0,
	"TLS_AUTO": 0,
	"TLSV1_0":  tls.VersionTLS10,
	"TLSV1_1":  tls.VersionTLS11,
	"TLSV1_2":  tls.VersionTLS12,
	"TLSV1_3":  tls.VersionTLS13,
}

// opensslSuites maps the OpenSSL names Istio accepts (and a few more that
// crypto/tls implements) to IANA names.
var opensslSuites = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"AES128-GCM-SHA256":             "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":             "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA":                    "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                    "TLS_RSA_WITH_AES_256_CBC_SHA",
	"DES-CBC3-SHA":                  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"ECDHE-RSA-DES-CBC3-SHA":        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"AES128-SHA256":                 "TLS_RSA_WITH_AES_128_CBC_SHA256",
}

// versionRange parses the Istio protocol names and applies the TLS_AUTO
// defaults (minimum 1.2, maximum 1.3).
func versionRange(s *ServerSettings) (lo, hi uint16, errs []error) {
	lo, ok := versions[s.MinVersion]
	if !ok {
		errs = append(errs, api.Errorf(s.Path+".minProtocolVersion",
			"unknown TLS version %q: want TLS_AUTO, TLSV1_0, TLSV1_1, TLSV1_2 or TLSV1_3", s.MinVersion))
	}
	hi, ok = versions[s.MaxVersion]
	if !ok {
		errs = append(errs, api.Errorf(s.Path+".maxProtocolVersion",
			"unknown TLS version %q: want TLS_AUTO, TLSV1_0, TLSV1_1, TLSV1_2 or TLSV1_3", s.MaxVersion))
	}
	if lo == 0 {
		lo = tls.VersionTLS12
	}
	if hi == 0 {
		hi = tls.VersionTLS13
	}
	if len(errs) == 0 && lo > hi {
		errs = append(errs, api.Errorf(s.Path+".minProtocolVersion",
			"minimum version %s is above maximum version %s", tls.VersionName(lo), tls.VersionName(hi)))
	}
	if len(errs) == 0 && lo < tls.VersionTLS12 && len(s.CipherSuites) == 0 {
		errs = append(errs, api.Errorf(s.Path+".minProtocolVersion",
			"%s needs cipherSuites: the default suites are AEAD-only, which TLS below 1.2 cannot use; list the suites to accept",
			tls.VersionName(lo)))
	}
	return lo, hi, errs
}

// cipherSuites resolves names to suite IDs. Like Istio's
// FilterCipherSuites it drops unknown and duplicate names, reporting each
// as a warning; when none is left, defaultSuites apply.
func cipherSuites(names []string, path string) (ids []uint16, warns []error) {
	known := suiteIDs()
	seen := make(map[uint16]bool, len(names))
	for i, name := range names {
		p := fmt.Sprintf("%s.cipherSuites[%d]", path, i)
		id, insecure, err := lookupSuite(known, name)
		switch {
		case err != nil:
			warns = append(warns, api.Warning(api.Errorf(p, "%w; ignored", err)))
			continue
		case seen[id]:
			warns = append(warns, api.Warning(api.Errorf(p, "duplicate cipher suite %q; ignored", name)))
			continue
		case insecure:
			warns = append(warns, api.Warning(api.Errorf(p, "cipher suite %q is insecure", name)))
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if len(names) > 0 && len(ids) == 0 {
		warns = append(warns, api.Warning(api.Errorf(path+".cipherSuites",
			"no usable cipher suite; the default AEAD suites apply")))
	}
	if len(ids) == 0 {
		ids = defaultSuites
	}
	return ids, warns
}

// defaultSuites are the TLS 1.2 suites offered when cipherSuites names
// none: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only, as an
// Istio gateway offers by default. Go's own defaults still include CBC
// suites, which scanners flag; those are used only when cipherSuites asks
// for them. TLS 1.3 suites are not configurable and always AEAD.
var defaultSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

type suiteInfo struct {
	id       uint16
	insecure bool
	tls13    bool
}

// suiteIDs indexes the suites crypto/tls implements by IANA name.
func suiteIDs() map[string]suiteInfo {
	m := make(map[string]suiteInfo)
	add := func(list []*tls.CipherSuite, insecure bool) {
		for _, cs := range list {
			only13 := len(cs.SupportedVersions) == 1 && cs.SupportedVersions[0] == tls.VersionTLS13
			m[cs.Name] = suiteInfo{id: cs.ID, insecure: insecure, tls13: only13}
		}
	}
	add(tls.CipherSuites(), false)
	add(tls.InsecureCipherSuites(), true)
	return m
}

func lookupSuite(known map[string]suiteInfo, name string) (id uint16, insecure bool, err error) {
	iana := strings.TrimSpace(name)
	if v, ok := opensslSuites[iana]; ok {
		iana = v
	}
	info, ok := known[iana]
	switch {
	case !ok:
		return 0, false, fmt.Errorf("unknown cipher suite %q", name)
	case info.tls13:
		return 0, false, fmt.Errorf("cipher suite %q is TLS 1.3 only and not configurable", name)
	}
	return info.id, info.insecure, nil
}
