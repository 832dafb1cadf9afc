// Command naiveproxy is the naive Go baseline of bench/peers.sh: the stock
// httputil.ReverseProxy in front of one upstream, as a 20-line proxy would
// be written.
//
//	naiveproxy LISTEN_ADDR UPSTREAM_ADDR
package main

import (
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: naiveproxy LISTEN_ADDR UPSTREAM_ADDR")
	}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: os.Args[2]})
	// The one tweak: the default transport keeps only 2 idle connections
	// per host, which churns upstream connections under 50 clients.
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	log.Fatal(http.ListenAndServe(os.Args[1], rp))
}
