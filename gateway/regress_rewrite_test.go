package gateway

import (
	"fmt"
	"strings"
	"testing"
)

// Regression (found in review): rewrite.uri (and uriRegexRewrite templates) are not checked for
// control characters; writeHead copies o.path into the request line raw,
// so a config value with CR/LF splits the upstream request. Envoy rejects
// such a prefix_rewrite (HTTP_HEADER_VALUE rule).
func TestRegressionRewriteURIControlChars(t *testing.T) {
	t.Parallel()
	_, problems, _, err := checkDir(t, routes(`
  - match: [{uri: {prefix: /pub}}]
    rewrite: {uri: "/pub HTTP/1.1\r\nHost: a\r\n\r\nGET /admin"}
    route: [{destination: {host: 127.0.0.1, port: {number: 80}}}]
`))
	if err == nil || !strings.Contains(fmt.Sprint(problems), "may not contain spaces, control characters") {
		t.Errorf("a rewrite with CR/LF loaded: %v %v", err, problems)
	}
}
