package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// securityCases are the ids of the attacks and faults the gateway is
// tested against, one test each, named by the id without its dash
// (TestPP01..., TestHTTP04...). The catalogue that describes them lives
// beside the repository (../shared/docs/security.md); when it is there,
// this list is checked against it.
var securityCases = []string{
	"PP-01", "PP-02", "PP-04", "PP-05", "PP-06", "PP-07", "PP-08", "PP-09",
	"CIP-01", "CIP-02", "CIP-04", "CIP-05", "CIP-06", "CIP-07",
	"AZ-01", "AZ-02", "AZ-03", "AZ-04", "AZ-06", "AZ-10", "AZ-11", "AZ-12",
	"JWT-01", "JWT-02", "JWT-03", "JWT-04", "JWT-05", "JWT-06", "JWT-07", "JWT-08", "JWT-09", "JWT-12", "JWT-13",
	"HTTP-01", "HTTP-02", "HTTP-03", "HTTP-04", "HTTP-05", "HTTP-06", "HTTP-07", "HTTP-08", "HTTP-10", "HTTP-11",
	"TLS-01", "TLS-03", "TLS-04", "TLS-05", "TLS-06",
	"CFG-01", "CFG-02", "CFG-03", "CFG-04", "CFG-05", "CFG-06", "CFG-07", "CFG-08",
	"UP-01", "UP-02", "UP-03", "UP-04", "UP-05", "UP-06", "UP-07", "UP-08", "UP-09",
}

var caseIDRE = regexp.MustCompile(`\*\*((?:PP|CIP|AZ|JWT|HTTP|TLS|CFG|UP)-\d\d) ·`)

// TestSecurityCatalogue: every case has a test named by its id.
func TestSecurityCatalogue(t *testing.T) {
	if doc, err := os.ReadFile("../shared/docs/security.md"); err == nil {
		var ids []string
		for _, m := range caseIDRE.FindAllStringSubmatch(string(doc), -1) {
			ids = append(ids, m[1])
		}
		if !slices.Equal(ids, securityCases) {
			t.Errorf("security.md lists %v\nsecurityCases holds %v", ids, securityCases)
		}
	}
	tests := map[string]string{} // id without dash -> first file naming a test after it
	testRE := regexp.MustCompile(`(?m)^func (?:Test|Fuzz)((?:PP|CIP|AZ|JWT|HTTP|TLS|CFG|UP)\d\d)`)
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range testRE.FindAllStringSubmatch(string(src), -1) {
			if _, ok := tests[m[1]]; !ok {
				tests[m[1]] = p
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, id := range securityCases {
		if _, ok := tests[strings.ReplaceAll(id, "-", "")]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d security cases have no test named by their id (func Test%s...): %v",
			len(missing), strings.ReplaceAll(missing[0], "-", ""), missing)
	}
}
