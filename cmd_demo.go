package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"text/template"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway"
	"github.com/mccutchen/go-httpbin/v2/httpbin"
)

//go:embed examples/quickstart/*.yaml
var quickstart embed.FS

// demoServiceEntry points the quickstart's "httpbin" at the built-in one.
const demoServiceEntry = `# Written by gatehouse demo: sends "httpbin" to the built-in httpbin.
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata:
  name: httpbin
spec:
  hosts: [httpbin]
  ports: [{number: 8000, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {http: %d}
`

var demoBanner = template.Must(template.New("banner").Parse(`
gatehouse demo: Istio's httpbin walkthrough on {{.URL}}

  curl -i {{.URL}}/status/200    # 200: routed to httpbin
  curl -i {{.URL}}/headers       # 404: no route for /headers
  curl -i {{.URL}}/delay/10      # 504 after 4s: the route's timeout

Configuration: {{.Dir}}
  Edit or add files there; gatehouse reloads them as they change.
{{if .Admin}}Admin:  http://{{.Admin}}/config_dump  and  /healthz/ready
{{end}}Stop with Ctrl-C.
`))

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("demo", "[--listen ADDR] [--admin ADDR]", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address that serves the demo Gateway's port 80")
	fs.StringVar(&f.admin, "admin", defaultAdmin, "admin address (\"\" disables)")
	f.logging(fs)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	log, err := f.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse demo:", err)
		return exitUsage
	}
	upstream, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse demo: starting httpbin:", err)
		return exitFailure
	}
	hb := &http.Server{Handler: httpbin.New().Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hb.Serve(upstream)
	defer hb.Close()
	dir, err := writeDemoConfig(upstream.Addr().(*net.TCPAddr).Port)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse demo:", err)
		return exitFailure
	}
	defer os.RemoveAll(dir)
	opts := gateway.Options{
		ConfigPaths: []string{dir}, AdminAddr: f.admin, Logger: log, Version: version(),
		ListenAddr: func(bind string, port uint32) string {
			if port == 80 {
				return *listen
			}
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
		},
	}
	return serveWith(ctx, opts, stderr, func(srv *gateway.Server) {
		demoBanner.Execute(stdout, map[string]string{"URL": "http://" + srv.Addr(80).String(), "Dir": dir, "Admin": f.admin})
	})
}

// writeDemoConfig copies the quickstart into a temporary directory and
// adds the ServiceEntry for the built-in httpbin.
func writeDemoConfig(httpbinPort int) (string, error) {
	dir, err := os.MkdirTemp("", "gatehouse-demo-")
	if err != nil {
		return "", err
	}
	err = fs.WalkDir(quickstart, "examples/quickstart", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := quickstart.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644)
	})
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "service-entry.yaml"), fmt.Appendf(nil, demoServiceEntry, httpbinPort), 0o644)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("writing the demo configuration: %w", err)
	}
	return dir, nil
}
