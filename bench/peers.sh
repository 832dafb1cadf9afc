#!/usr/bin/env bash
# bench/peers.sh: gatehouse side by side with its peers, on loopback.
#
# Run from the repository root:
#
#   bench/peers.sh                         # HTTP scenario, every target
#   TARGETS="direct caddy gatehouse" bench/peers.sh
#   TARGETS=tcp bench/peers.sh             # TCP forwarding scenario
#   TARGETS=tls bench/peers.sh             # TLS termination scenario
#   TARGETS=all bench/peers.sh             # http + tcp + tls
#   DURATION=6 ROUNDS=2 CONNS=50 bench/peers.sh
#   REV=HEAD bench/peers.sh                # gatehouse as committed, not the work tree
#
# Targets (TARGETS, space separated; "http", "tcp", "tls" and "all" are groups):
#   http: direct nginx haproxy caddy naive gatehouse gatehouse-nethttp
#   tcp:  tcp-direct socat tcpcopy gatehouse-tcp
#   tls:  tls-nginx gatehouse-tls
#
# Each scenario has one or more measurements:
#   http:  HTTP/1.1 keep-alive, `wrk -t1 -cCONNS -dDURATIONs --latency`
#   tcp:   new connections/s (`tcpload conns`: CONNS clients, connect, echo
#          16 bytes, close) and bulk throughput (`tcpload bulk`: BULK_BYTES
#          over BULK_CONNS connections to a discarding upstream)
#   tls:   full handshakes/s (`tlsload`: CONNS clients, handshake without
#          resumption, one GET, close) and HTTPS keep-alive (wrk https://)
# Every measurement is interleaved over ROUNDS rounds (A B C ... A B C ...)
# and compared by ratios within this run only (see
# shared/docs/performance.md). Raw outputs go to bench/results/<date>/.
# Every process started here is stopped on exit.
set -euo pipefail

DURATION=${DURATION:-6}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-50}
WARMUP=${WARMUP:-1}   # seconds of unrecorded load per target before round 1; 0: none
TARGETS=${TARGETS:-http}
REV=${REV:-}          # a git revision to build gatehouse from instead of the working tree

# TCP bulk: BULK_BYTES (suffixes KiB, MiB, GiB) over BULK_CONNS connections,
# each stopping at BULK_MAX seconds if it has not sent its share by then.
BULK_BYTES=${BULK_BYTES:-4GiB}
BULK_CONNS=${BULK_CONNS:-1}
BULK_MAX=${BULK_MAX:-30}
# TLS: the certificate's key (ec: ECDSA P-256, rsa: RSA 2048) and the key
# exchange tlsload offers (x25519, p256, mlkem or default; see bench/tlsload).
TLS_KEY=${TLS_KEY:-ec}
TLS_CURVE=${TLS_CURVE:-x25519}
TLS_HOST=tls.bench.test
TLS_PATH=/hello

HTTP_TARGETS=(direct nginx haproxy caddy naive gatehouse gatehouse-nethttp)
TCP_TARGETS=(tcp-direct socat tcpcopy gatehouse-tcp)
TLS_TARGETS=(tls-nginx gatehouse-tls)
ALL_TARGETS=("${HTTP_TARGETS[@]}" "${TCP_TARGETS[@]}" "${TLS_TARGETS[@]}")

# The realistic gatehouse config: GH_HOSTS hosts of GH_ROUTES routes each;
# requests go to the last route of the last host (bench/config.go builds
# the same shape for the Go benchmarks).
GH_HOSTS=${GH_HOSTS:-50}
GH_ROUTES=${GH_ROUTES:-10}
REQ_HOST=$(printf 'h%03d.bench.test' $((GH_HOSTS - 1)))
REQ_PATH="/r$((GH_ROUTES - 1))/hello"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
stamp=$(date +%Y%m%d-%H%M%S)
results="$root/bench/results/$stamp"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")

pids=()         # every process started here
declare -A URL  # target -> URL wrk loads (http, tls)
declare -A ADDR # target -> host:port tcpload/tlsload load (tcp, tls)
declare -A PID  # target -> its process
skipped=()     # targets not measured, with why

log() { printf '== %s\n' "$*" >&2; }
die() {
	printf 'peers.sh: %s\n' "$*" >&2
	exit 1
}

cleanup() {
	local pid i
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- targets

# selected NAME: is target NAME in TARGETS (groups expanded)?
declare -A SELECTED
select_targets() {
	local t g
	for t in $TARGETS; do
		case $t in
		http) for g in "${HTTP_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		tcp) for g in "${TCP_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		tls) for g in "${TLS_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		all) for g in "${ALL_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		*)
			[[ " ${ALL_TARGETS[*]} " == *" $t "* ]] ||
				die "unknown target $t (want http, tcp, tls, all or one of: ${ALL_TARGETS[*]})"
			SELECTED[$t]=1
			;;
		esac
	done
}
selected() { [[ -n ${SELECTED[$1]:-} ]]; }
any_selected() {
	local t
	for t in "$@"; do selected "$t" && return 0; done
	return 1
}

# ---------------------------------------------------------------- tools

# needs_nginx: the HTTP upstream (nginx) serves the http and tls scenarios.
needs_nginx() { any_selected "${HTTP_TARGETS[@]}" "${TLS_TARGETS[@]}"; }

ensure_tools() {
	local need=() missing=() tool
	needs_nginx && need+=(wrk nginx)
	any_selected "${TLS_TARGETS[@]}" && need+=(openssl)
	selected haproxy && need+=(haproxy)
	selected caddy && need+=(caddy)
	selected socat && need+=(socat)
	for tool in "${need[@]}"; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	command -v go >/dev/null || die "go is not installed"
	((${#missing[@]} == 0)) && return
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "missing ${missing[*]}; install them as root: apt-get install -y ${missing[*]}"
		sudo=(sudo)
	fi
	log "installing missing tools: ${missing[*]}"
	log "running: apt-get update && apt-get install -y ${missing[*]}"
	"${sudo[@]}" apt-get update -q >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
	# Debian starts the packaged services; this benchmark runs its own
	# instances on free ports and does not need them.
}

# versions prints the peers' versions, for the results.
versions() {
	if [[ -n $REV ]]; then
		printf 'gatehouse %s (REV=%s)\n' "$(git rev-parse --short "$REV")" "$REV"
	else
		printf 'gatehouse %s (working tree%s)\n' "$(git rev-parse --short HEAD)" \
			"$([[ -n $(git status --porcelain -- . ':!bench' 2>/dev/null) ]] && echo ', with uncommitted changes')"
	fi
	go version
	if needs_nginx; then
		wrk -v 2>&1 | head -1 || true
		nginx -v 2>&1
	fi
	any_selected "${TLS_TARGETS[@]}" && openssl version
	selected haproxy && haproxy -v 2>&1 | head -1
	selected caddy && printf 'caddy %s\n' "$(caddy version 2>&1 | head -1)"
	selected socat && socat -V 2>&1 | grep -m1 'socat version'
	printf 'cpus: %s\n' "$(nproc)"
	return 0
}

build() {
	if [[ -n $REV ]]; then
		log "building gatehouse at $REV ($(git rev-parse --short "$REV")) and the Go baselines"
		mkdir -p "$tmp/src"
		git archive "$REV" | tar -x -C "$tmp/src"
		(cd "$tmp/src" && go build -o "$tmp/bin/gatehouse" .)
	else
		log "building gatehouse (working tree) and the Go baselines"
		go build -o "$tmp/bin/gatehouse" .
	fi
	selected naive && go build -o "$tmp/bin/naiveproxy" ./bench/naiveproxy
	selected tcpcopy && go build -o "$tmp/bin/tcpcopy" ./bench/tcpcopy
	any_selected "${TCP_TARGETS[@]}" && go build -o "$tmp/bin/tcpload" ./bench/tcpload
	any_selected "${TLS_TARGETS[@]}" && go build -o "$tmp/bin/tlsload" ./bench/tlsload
	return 0
}

# ---------------------------------------------------------------- helpers

# free_port VAR: stores in VAR a loopback port nothing listens on, below the
# ephemeral range (so outgoing connections cannot be holding it) and not
# handed out before.
used_ports=" "
free_port() {
	local low p
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	((low > 11000)) || low=32768
	while :; do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
		[[ $used_ports == *" $p "* ]] && continue
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi
		used_ports+="$p "
		printf -v "$1" '%s' "$p"
		return
	done
}

# spawn NAME CMD...: starts CMD in the background, logging to $tmp/NAME.log.
spawn() {
	local name=$1
	shift
	"$@" >"$tmp/$name.log" 2>&1 &
	pids+=("$!")
	PID[$name]=$!
}

# http_status PORT HOST PATH: prints the status code of one GET.
http_status() (
	exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
	printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$3" "$2" >&3
	IFS= read -r -t 2 line <&3 || exit 1
	line=${line%$'\r'}
	line=${line#HTTP/1.? }
	printf '%s\n' "${line%% *}"
)

# wait_ready NAME PORT [HOST PATH]: waits up to 10 s for a 200 answer.
wait_ready() {
	local name=$1 port=$2 host=${3:-$REQ_HOST} path=${4:-$REQ_PATH} code="" i
	for ((i = 0; i < 100; i++)); do
		code=$(http_status "$port" "$host" "$path" 2>/dev/null) || code=""
		[[ $code == 200 ]] && return 0
		if ! kill -0 "${PID[$name]}" 2>/dev/null; then
			cat "$tmp/$name.log" >&2
			die "$name exited at start"
		fi
		sleep 0.1
	done
	cat "$tmp/$name.log" >&2
	die "$name not answering 200 on 127.0.0.1:$port (last status: ${code:-none})"
}

# wait_check NAME CMD...: waits up to 10 s for CMD (a tcpload or tlsload
# check through the target) to succeed.
wait_check() {
	local name=$1 i
	shift
	for ((i = 0; i < 100; i++)); do
		"$@" >"$tmp/$name.check" 2>&1 && return 0
		if ! kill -0 "${PID[$name]}" 2>/dev/null; then
			cat "$tmp/$name.log" >&2
			die "$name exited at start"
		fi
		sleep 0.1
	done
	cat "$tmp/$name.log" "$tmp/$name.check" >&2
	die "$name does not pass: $*"
}
tcp_ready() { wait_check "$1" "$tmp/bin/tcpload" check "$2"; }
tls_ready() {
	wait_check "$1" "$tmp/bin/tlsload" -check -curve "$TLS_CURVE" -sni "$TLS_HOST" -path "$TLS_PATH" "$2"
	log "$1: $(cat "$tmp/$1.check")"
}

# ---------------------------------------------------------------- processes

# nginx_conf DIR WORKERS LISTEN HTTP_EXTRA SERVER_BODY: writes DIR/nginx.conf
# with one server listening on 127.0.0.1:LISTEN ("8080" or "8443 ssl").
nginx_conf() {
	mkdir -p "$1"
	cat >"$1/nginx.conf" <<EOF
worker_processes $2;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    ${4:-}
    server {
        listen 127.0.0.1:$3;
        $5
    }
}
EOF
}

UP_PORT=""
start_upstream() {
	free_port UP_PORT
	nginx_conf "$tmp/upstream" 1 "$UP_PORT" "" 'location / { return 200 "hello"; }'
	spawn upstream nginx -p "$tmp/upstream" -c "$tmp/upstream/nginx.conf" -e "$tmp/upstream/error.log"
	wait_ready upstream "$UP_PORT"
	URL[direct]="http://127.0.0.1:$UP_PORT$REQ_PATH"
}

start_peer_nginx() {
	local port
	free_port port
	# shellcheck disable=SC2016 # $host is nginx's variable
	nginx_conf "$tmp/nginx" auto "$port" \
		"upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; }" \
		'location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }'
	spawn nginx nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log"
	wait_ready nginx "$port"
	URL[nginx]="http://127.0.0.1:$port$REQ_PATH"
}

start_haproxy() {
	local port
	free_port port
	cat >"$tmp/haproxy.cfg" <<EOF
global
    nbthread 2
    maxconn 4096
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$port
    default_backend be
backend be
    server up 127.0.0.1:$UP_PORT
EOF
	spawn haproxy haproxy -db -f "$tmp/haproxy.cfg"
	wait_ready haproxy "$port"
	URL[haproxy]="http://127.0.0.1:$port$REQ_PATH"
}

start_caddy() {
	local port
	free_port port
	mkdir -p "$tmp/caddy"
	cat >"$tmp/caddy/Caddyfile" <<EOF
{
    admin off
    auto_https off
}
http://:$port {
    bind 127.0.0.1
    reverse_proxy 127.0.0.1:$UP_PORT
}
EOF
	spawn caddy env HOME="$tmp/caddy" XDG_CONFIG_HOME="$tmp/caddy" XDG_DATA_HOME="$tmp/caddy" \
		caddy run --config "$tmp/caddy/Caddyfile" --adapter caddyfile
	wait_ready caddy "$port"
	URL[caddy]="http://127.0.0.1:$port$REQ_PATH"
}

start_naive() {
	local port
	free_port port
	spawn naive "$tmp/bin/naiveproxy" "127.0.0.1:$port" "127.0.0.1:$UP_PORT"
	wait_ready naive "$port"
	URL[naive]="http://127.0.0.1:$port$REQ_PATH"
}

# gatehouse_config DIR PORT: writes the realistic config (see bench/config.go:
# same hosts, routes and match mix) for a Gateway on 127.0.0.1:PORT.
gatehouse_config() {
	local dir=$1 port=$2 i r first host
	mkdir -p "$dir/vs"
	{
		printf 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: bench-gw, namespace: default}\n'
		printf 'spec:\n  selector: {istio: ingressgateway}\n  servers:\n'
		for ((first = 0; first < GH_HOSTS; first += 10)); do
			printf '  - port: {number: %d, name: http-%d, protocol: HTTP}\n    bind: 127.0.0.1\n    hosts:\n' "$port" "$first"
			for ((i = first; i < first + 10 && i < GH_HOSTS; i++)); do
				printf '    - h%03d.bench.test\n' "$i"
			done
		done
	} >"$dir/gateway.yaml"
	cat >"$dir/backend.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.bench.internal]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints:
  - address: 127.0.0.1
    ports: {http: $UP_PORT}
EOF
	for ((i = 0; i < GH_HOSTS; i++)); do
		printf -v host 'h%03d.bench.test' "$i"
		{
			printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-%03d, namespace: default}\n' "$i"
			printf 'spec:\n  hosts: [%s]\n  gateways: [bench-gw]\n  http:\n' "$host"
			for ((r = 0; r < GH_ROUTES; r++)); do
				printf '  - name: r%d\n    match:\n' "$r"
				if ((r == GH_ROUTES - 1)); then
					printf '    - uri: {prefix: /r%d}\n' "$r"
				else
					case $((r % 4)) in
					0) printf '    - uri: {prefix: /r%d/}\n      method: {exact: POST}\n' "$r" ;;
					1) printf '    - uri: {exact: /r%d/health}\n' "$r" ;;
					2) printf "    - uri: {regex: '/r%d/[0-9]+/items'}\n" "$r" ;;
					3) printf '    - uri: {prefix: /r%d}\n      headers: {x-tenant: {exact: t%d}}\n' "$r" "$r" ;;
					esac
				fi
				printf '    route:\n    - destination: {host: backend.bench.internal, port: {number: 8080}}\n    timeout: 10s\n'
			done
		} >"$dir/vs/vs-$(printf %03d "$i").yaml"
	done
}

# start_gatehouse NAME ENGINE: gatehouse on the realistic config.
start_gatehouse() {
	local name=$1 engine=$2 port admin
	free_port port
	free_port admin
	gatehouse_config "$tmp/$name" "$port"
	if [[ ! -f $tmp/validated ]]; then
		"$tmp/bin/gatehouse" validate --config "$tmp/$name" >&2 || die "the generated gatehouse config is invalid"
		touch "$tmp/validated"
	fi
	spawn "$name" "$tmp/bin/gatehouse" run --config "$tmp/$name" --admin "127.0.0.1:$admin" \
		--upstream-engine "$engine" --drain-timeout 2s --log-level warn
	wait_ready "$name" "$port"
	URL[$name]="http://127.0.0.1:$port$REQ_PATH"
}

# ---- TCP scenario: plain TCP forwarders in front of one tcpload upstream
# (echo, or count-and-discard for connections that start with "SINK").

TCP_UP_PORT=""
start_tcp_upstream() {
	free_port TCP_UP_PORT
	spawn tcp-upstream "$tmp/bin/tcpload" serve "127.0.0.1:$TCP_UP_PORT"
	tcp_ready tcp-upstream "127.0.0.1:$TCP_UP_PORT"
	ADDR[tcp-direct]=127.0.0.1:$TCP_UP_PORT
}

start_socat() {
	local port
	free_port port
	spawn socat socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr,backlog=1024" "TCP:127.0.0.1:$TCP_UP_PORT"
	tcp_ready socat "127.0.0.1:$port"
	ADDR[socat]=127.0.0.1:$port
}

start_tcpcopy() {
	local port
	free_port port
	spawn tcpcopy "$tmp/bin/tcpcopy" "127.0.0.1:$port" "127.0.0.1:$TCP_UP_PORT"
	tcp_ready tcpcopy "127.0.0.1:$port"
	ADDR[tcpcopy]=127.0.0.1:$port
}

# gatehouse_validate NAME DIR: gatehouse validate on DIR; prints its output.
gatehouse_validate() {
	local out
	out=$("$tmp/bin/gatehouse" validate --config "$2" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "the gatehouse config of $1 is invalid"
	}
	printf '%s\n' "$out"
}

start_gatehouse_tcp() {
	local dir=$tmp/gatehouse-tcp port admin out
	free_port port
	free_port admin
	mkdir -p "$dir"
	cat >"$dir/tcp.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-gw, namespace: default}
spec:
  servers:
  - port: {number: $port, name: tcp, protocol: TCP}
    bind: 127.0.0.1
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend-tcp, namespace: default}
spec:
  hosts: [backend-tcp.bench.internal]
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints:
  - address: 127.0.0.1
    ports: {tcp: $TCP_UP_PORT}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp, namespace: default}
spec:
  hosts: ["*"]
  gateways: [tcp-gw]
  tcp:
  - match: [{port: $port}]
    route:
    - destination: {host: backend-tcp.bench.internal, port: {number: 9000}}
EOF
	out=$(gatehouse_validate gatehouse-tcp "$dir")
	if [[ $out == *"not served"* ]]; then
		# Builds before TCP forwarding (REV= an older commit) skip TCP servers.
		printf '%s\n' "$out" >&2
		log "gatehouse TCP forwarding not available in this build: skipping gatehouse-tcp"
		skipped+=("gatehouse-tcp: TCP forwarding not available in this build")
		return
	fi
	spawn gatehouse-tcp "$tmp/bin/gatehouse" run --config "$dir" --admin "127.0.0.1:$admin" --drain-timeout 2s --log-level warn
	tcp_ready gatehouse-tcp "127.0.0.1:$port"
	ADDR[gatehouse-tcp]=127.0.0.1:$port
}

# ---- TLS scenario: TLS terminated in front of the HTTP upstream (nginx).

# make_cert: a self-signed certificate for TLS_HOST, key per TLS_KEY.
TLS_CERT="" TLS_KEYFILE=""
make_cert() {
	local newkey
	case $TLS_KEY in
	ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
	rsa) newkey=(-newkey rsa:2048) ;;
	*) die "TLS_KEY=$TLS_KEY: want ec or rsa" ;;
	esac
	mkdir -p "$tmp/tls"
	TLS_CERT=$tmp/tls/cert.pem TLS_KEYFILE=$tmp/tls/key.pem
	openssl req -x509 "${newkey[@]}" -nodes -days 7 -subj "/CN=$TLS_HOST" \
		-addext "subjectAltName=DNS:$TLS_HOST" -keyout "$TLS_KEYFILE" -out "$TLS_CERT" 2>"$tmp/tls/openssl.log" ||
		{ cat "$tmp/tls/openssl.log" >&2; die "openssl could not make a certificate"; }
}

start_tls_nginx() {
	local port
	free_port port
	# shellcheck disable=SC2016 # $host is nginx's variable
	nginx_conf "$tmp/tls-nginx" auto "$port ssl" \
		"upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; }" \
		"ssl_certificate $TLS_CERT; ssl_certificate_key $TLS_KEYFILE; ssl_protocols TLSv1.2 TLSv1.3;
        location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host \$host; }"
	spawn tls-nginx nginx -p "$tmp/tls-nginx" -c "$tmp/tls-nginx/nginx.conf" -e "$tmp/tls-nginx/error.log"
	tls_ready tls-nginx "127.0.0.1:$port"
	ADDR[tls-nginx]=127.0.0.1:$port
	URL[tls-nginx]="https://127.0.0.1:$port$TLS_PATH"
}

# start_gatehouse_tls: an HTTPS server (hosts "*", because wrk sends the
# URL's IP address as SNI) and a VirtualService for TLS_HOST routing to
# the upstream.
start_gatehouse_tls() {
	local dir=$tmp/gatehouse-tls port admin
	free_port port
	free_port admin
	mkdir -p "$dir"
	cat >"$dir/tls.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tls-gw, namespace: default}
spec:
  servers:
  - port: {number: $port, name: https, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["*"]
    tls: {mode: SIMPLE, serverCertificate: $TLS_CERT, privateKey: $TLS_KEYFILE}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.bench.internal]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints:
  - address: 127.0.0.1
    ports: {http: $UP_PORT}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls, namespace: default}
spec:
  hosts: [$TLS_HOST]
  gateways: [tls-gw]
  http:
  - route:
    - destination: {host: backend.bench.internal, port: {number: 8080}}
    timeout: 10s
EOF
	gatehouse_validate gatehouse-tls "$dir" >/dev/null
	spawn gatehouse-tls "$tmp/bin/gatehouse" run --config "$dir" --admin "127.0.0.1:$admin" --drain-timeout 2s --log-level warn
	tls_ready gatehouse-tls "127.0.0.1:$port"
	ADDR[gatehouse-tls]=127.0.0.1:$port
	URL[gatehouse-tls]="https://127.0.0.1:$port$TLS_PATH"
}

start_targets() {
	needs_nginx && start_upstream
	selected nginx && start_peer_nginx
	selected haproxy && start_haproxy
	selected caddy && start_caddy
	selected naive && start_naive
	selected gatehouse && start_gatehouse gatehouse gatehouse
	selected gatehouse-nethttp && start_gatehouse gatehouse-nethttp net/http
	any_selected "${TCP_TARGETS[@]}" && start_tcp_upstream
	selected socat && start_socat
	selected tcpcopy && start_tcpcopy
	selected gatehouse-tcp && start_gatehouse_tcp
	any_selected "${TLS_TARGETS[@]}" && make_cert
	selected tls-nginx && start_tls_nginx
	selected gatehouse-tls && start_gatehouse_tls
	return 0
}

# ---------------------------------------------------------------- measuring

# Each measurement KIND has a loader and a parser:
#   load_KIND TARGET SECONDS OUT   one run of about SECONDS (bulk: at most),
#                                  its raw output in OUT
#   parse_KIND OUT                 prints "rate p50_ms p99_ms errors bad"
# and a unit (UNIT[KIND]) for the progress lines.
declare -A UNIT=([http]=rps [tcp_conns]=conn/s [tcp_bulk]=MB/s [tls_hs]=hs/s [tls_ka]=rps)

load_http() { wrk -t1 -c"$CONNS" -d"${2}s" --latency -H "Host: $REQ_HOST" "${URL[$1]}" >"$3" 2>&1 || true; }
load_tcp_conns() { "$tmp/bin/tcpload" conns -c "$CONNS" -d "${2}s" "${ADDR[$1]}" >"$3" 2>&1 || true; }
load_tcp_bulk() { "$tmp/bin/tcpload" bulk -c "$BULK_CONNS" -bytes "$BULK_BYTES" -max "${2}s" "${ADDR[$1]}" >"$3" 2>&1 || true; }
load_tls_hs() {
	"$tmp/bin/tlsload" -c "$CONNS" -d "${2}s" -sni "$TLS_HOST" -path "$TLS_PATH" -curve "$TLS_CURVE" "${ADDR[$1]}" >"$3" 2>&1 || true
}
load_tls_ka() { wrk -t1 -c"$CONNS" -d"${2}s" --latency -H "Host: $TLS_HOST" "${URL[$1]}" >"$3" 2>&1 || true; }

# parse_wrk FILE: prints "rps p50_ms p99_ms socket_errors non_2xx".
parse_wrk() {
	awk '
	function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /m$/) return v * 60000
		if (v ~ /s$/) return v * 1000
		return v + 0
	}
	/^Requests\/sec:/ { rps = $2 }
	$1 == "50%" { p50 = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	/Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
	END { printf "%.0f %.3f %.3f %d %d\n", rps, p50, p99, err, bad }
	' "$1"
}
# parse_result FILE: the "result rate=... p50_ms=... p99_ms=... errors=..."
# line of tcpload and tlsload, as "rate p50 p99 errors 0"; a run that
# printed none (it crashed) counts as one error.
parse_result() {
	awk '
	/^result / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }; found = 1 }
	END { if (found) printf "%s %s %s %d 0\n", v["rate"], v["p50_ms"], v["p99_ms"], v["errors"]; else print "0 0 0 1 0" }
	' "$1"
}
parse_http() { parse_wrk "$1"; }
parse_tls_ka() { parse_wrk "$1"; }
parse_tcp_conns() { parse_result "$1"; }
parse_tcp_bulk() { parse_result "$1"; }
parse_tls_hs() { parse_result "$1"; }

# cpu_ticks TARGET: CPU time (clock ticks) used so far by the target's
# process and its children (nginx workers; socat's reaped forks are in
# its cutime/cstime). The "direct" targets count their upstream.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ticks() {
	local name=$1 pid p stat sum=0 f
	[[ $name == direct ]] && name=upstream
	[[ $name == tcp-direct ]] && name=tcp-upstream
	pid=${PID[$name]:-}
	[[ -n $pid ]] || {
		echo 0
		return
	}
	for p in $pid $(ps -o pid= --ppid "$pid" 2>/dev/null); do
		stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		read -r -a f <<<"${stat##*) }"
		# fields 14-17 of stat (utime stime cutime cstime) are f[11..14] here
		sum=$((sum + f[11] + f[12] + f[13] + f[14]))
	done
	echo "$sum"
}

# measure KIND NAME: one recorded run of ROUND; appends its parsed line and
# the cores the target used during it ("rate p50 p99 errors bad cores") to
# $tmp/m-KIND-NAME.
ROUND=0
measure() {
	local kind=$1 name=$2 out secs=$DURATION rate p50 p99 err bad t0 t1 c0 c1 cores
	[[ $kind == tcp_bulk ]] && secs=$BULK_MAX
	out="$results/$SCENARIO-r$ROUND-$kind-$name.txt"
	c0=$(cpu_ticks "$name")
	t0=$(date +%s.%N)
	"load_$kind" "$name" "$secs" "$out"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$name")
	cores=$(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.3f", c / hz / (t1 - t0) }')
	read -r rate p50 p99 err bad < <("parse_$kind" "$out")
	printf '%s %s %s %s %s %s\n' "$rate" "$p50" "$p99" "$err" "$bad" "$cores" >>"$tmp/m-$kind-$name"
	printf '   round %d  %-9s %-14s %9s %-6s p50 %7s ms  p99 %7s ms  errors %s  non-2xx %s  cpu %s cores\n' \
		"$ROUND" "$kind" "$name" "$rate" "${UNIT[$kind]}" "$p50" "$p99" "$err" "$bad" "$cores" >&2
}

# run_scenario SCENARIO KIND... -- TARGET...: warm-up, then ROUNDS rounds;
# each round runs every KIND over the targets that were started, in turn
# (KIND1: A B C, KIND2: A B C, then the next round).
run_scenario() {
	SCENARIO=$1
	shift
	local kinds=() list=() t k
	while (($#)) && [[ $1 != -- ]]; do
		kinds+=("$1")
		shift
	done
	shift
	for t in "$@"; do
		selected "$t" && [[ -n ${URL[$t]:-}${ADDR[$t]:-} ]] && list+=("$t")
	done
	((${#list[@]})) || return 0
	if ((WARMUP > 0)); then
		log "$SCENARIO: warm-up, ${WARMUP}s per target and measurement"
		for k in "${kinds[@]}"; do
			for t in "${list[@]}"; do
				"load_$k" "$t" "$WARMUP" "$results/$SCENARIO-warmup-$k-$t.txt"
			done
		done
	fi
	for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
		log "$SCENARIO: round $ROUND of $ROUNDS"
		for k in "${kinds[@]}"; do
			for t in "${list[@]}"; do
				measure "$k" "$t"
			done
		done
	done
}

# ---------------------------------------------------------------- reporting

# median FIELD FILE: the median of column FIELD of FILE.
median() {
	awk -v f="$1" '{ print $f }' "$2" | sort -g | awk '
	{ a[NR] = $1 }
	END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# total FIELD FILE: the sum of column FIELD of FILE.
total() { awk -v f="$1" '{ s += $f } END { print s + 0 }' "$2"; }
# ratio A B: A/B with two decimals, "-" when either is missing or B is zero.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || a == "-" || a == "nan" || b == "" || b == "-" || b == "nan" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

# rss_mib TARGET: resident memory of the target's process and its children
# (nginx workers), in MiB, or "-".
rss_mib() {
	local name=$1 pid kb
	[[ $name == direct ]] && name=upstream
	[[ $name == tcp-direct ]] && name=tcp-upstream
	pid=${PID[$name]:-}
	if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
		echo -
		return
	fi
	kb=$({ ps -o rss= -p "$pid"; ps -o rss= --ppid "$pid"; } 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
	awk -v kb="$kb" 'BEGIN { printf "%.0f", kb / 1024 }'
}

# summarize KIND TARGET...: medians and error totals of KIND's runs, in
# RPS P50 P99 ERRS keyed "KIND:TARGET", and the target's CPU per operation
# (COST: microseconds per connection or request; for bulk, CPU seconds per
# GB) from the median cores used over the median rate; RSS keyed by target.
declare -A RPS P50 P99 ERRS RSS COST
summarize() {
	local kind=$1 t f
	shift
	for t in "$@"; do
		f="$tmp/m-$kind-$t"
		[[ -f $f ]] || continue
		RSS[$t]=$(rss_mib "$t")
		RPS[$kind:$t]=$(median 1 "$f")
		P50[$kind:$t]=$(median 2 "$f")
		P99[$kind:$t]=$(median 3 "$f")
		ERRS[$kind:$t]=$(($(total 4 "$f") + $(total 5 "$f")))
		COST[$kind:$t]=$(cost "$kind" "$(median 6 "$f")" "${RPS[$kind:$t]}")
	done
}

# cost KIND CORES RATE: CPU per operation, "-" without a rate.
cost() {
	awk -v k="$1" -v c="$2" -v r="$3" 'BEGIN {
		if (r + 0 <= 0) { print "-"; exit }
		if (k == "tcp_bulk") printf "%.2f", c / r * 1000   # cores / (MB/s) = CPU s per MB; x1000 = per GB
		else printf "%.0f", c / r * 1e6                     # CPU us per operation
	}'
}

# table REF1 REF2 TARGET...: the HTTP table, with ratios to REF1 and REF2.
table() {
	local r1=$1 r2=$2 t
	shift 2
	printf '%-18s %9s %8s %8s %8s %8s %10s %7s %8s\n' target rps "p50 ms" "p99 ms" "x $r1" "x $r2" "p99 x $r2" errors "rss MiB"
	for t in "$@"; do
		[[ -n ${RPS[http:$t]:-} ]] || continue
		printf '%-18s %9.0f %8.2f %8.2f %8s %8s %10s %7s %8s\n' "$t" "${RPS[http:$t]}" "${P50[http:$t]}" "${P99[http:$t]}" \
			"$(ratio "${RPS[http:$t]}" "${RPS[http:$r1]:-}")" "$(ratio "${RPS[http:$t]}" "${RPS[http:$r2]:-}")" \
			"$(ratio "${P99[http:$t]}" "${P99[http:$r2]:-}")" "${ERRS[http:$t]}" "${RSS[$t]}"
	done
}

# tcp_table TARGET...: new connections/s (ratios to socat and tcpcopy) and
# bulk MB/s (ratio to tcpcopy).
tcp_table() {
	local t c=tcp_conns b=tcp_bulk
	printf '%-14s %8s %7s %7s %7s %9s %7s %6s | %9s %9s %8s %6s | %7s\n' target conn/s "p50 ms" "p99 ms" "x socat" "x tcpcopy" "cpu us" errors \
		"bulk MB/s" "x tcpcopy" "cpu s/GB" errors "rss MiB"
	for t in "$@"; do
		[[ -n ${RPS[$c:$t]:-}${RPS[$b:$t]:-} ]] || continue
		printf '%-14s %8.0f %7.2f %7.2f %7s %9s %7s %6s | %9.0f %9s %8s %6s | %7s\n' "$t" \
			"${RPS[$c:$t]:-0}" "${P50[$c:$t]:-0}" "${P99[$c:$t]:-0}" \
			"$(ratio "${RPS[$c:$t]:-}" "${RPS[$c:socat]:-}")" "$(ratio "${RPS[$c:$t]:-}" "${RPS[$c:tcpcopy]:-}")" \
			"${COST[$c:$t]:--}" "${ERRS[$c:$t]:--}" \
			"${RPS[$b:$t]:-0}" "$(ratio "${RPS[$b:$t]:-}" "${RPS[$b:tcpcopy]:-}")" "${COST[$b:$t]:--}" "${ERRS[$b:$t]:--}" "${RSS[$t]}"
	done
}

# tls_table TARGET...: full handshakes/s and HTTPS keep-alive rps, with
# ratios to tls-nginx.
tls_table() {
	local t h=tls_hs k=tls_ka
	printf '%-14s %7s %7s %7s %7s %7s %6s | %8s %7s %7s %7s %9s %7s %6s | %7s\n' target hs/s "p50 ms" "p99 ms" "x nginx" "cpu us" errors \
		"ka rps" "p50 ms" "p99 ms" "x nginx" "p99 x ngx" "cpu us" errors "rss MiB"
	for t in "$@"; do
		[[ -n ${RPS[$h:$t]:-}${RPS[$k:$t]:-} ]] || continue
		printf '%-14s %7.0f %7.2f %7.2f %7s %7s %6s | %8.0f %7.2f %7.2f %7s %9s %7s %6s | %7s\n' "$t" \
			"${RPS[$h:$t]:-0}" "${P50[$h:$t]:-0}" "${P99[$h:$t]:-0}" "$(ratio "${RPS[$h:$t]:-}" "${RPS[$h:tls-nginx]:-}")" \
			"${COST[$h:$t]:--}" "${ERRS[$h:$t]:--}" \
			"${RPS[$k:$t]:-0}" "${P50[$k:$t]:-0}" "${P99[$k:$t]:-0}" "$(ratio "${RPS[$k:$t]:-}" "${RPS[$k:tls-nginx]:-}")" \
			"$(ratio "${P99[$k:$t]:-}" "${P99[$k:tls-nginx]:-}")" "${COST[$k:$t]:--}" "${ERRS[$k:$t]:--}" "${RSS[$t]}"
	done
}

legend() {
	printf '(rates, p50, p99: medians over rounds; errors: all rounds (wrk: socket errors + non-2xx; tcpload/tlsload: failed connections); rss: after the runs, children included)\n'
}
cost_legend() {
	printf '(cpu: CPU time of the target itself (children included; for the direct rows, the upstream) per connection/handshake/request in us, per GB for bulk, from /proc during the runs: less is better, and it does not depend on how much CPU the load generator took)\n'
}

# check LABEL VALUE OP BOUND: "LABEL VALUEx PASS|MISS".
check() {
	local v=$2 verdict
	if [[ $v == - ]]; then
		printf '%s n/a' "$1"
		return
	fi
	verdict=$(awk -v v="$v" -v op="$3" -v b="$4" 'BEGIN { ok = (op == ">=") ? v >= b : v <= b; print ok ? "PASS" : "MISS" }')
	printf '%s %sx %s' "$1" "$v" "$verdict"
}

http_targets_line() {
	local gh=$1
	[[ -n ${RPS[http:$gh]:-} ]] || return 0
	printf 'targets (%s): %s; %s; %s\n' "$gh" \
		"$(check "rps >= 2.0x caddy:" "$(ratio "${RPS[http:$gh]}" "${RPS[http:caddy]:-}")" ">=" 2.0)" \
		"$(check "rps >= 0.6x nginx:" "$(ratio "${RPS[http:$gh]}" "${RPS[http:nginx]:-}")" ">=" 0.6)" \
		"$(check "p99 <= 1.5x nginx:" "$(ratio "${P99[http:$gh]}" "${P99[http:nginx]:-}")" "<=" 1.5)"
}

# tcp_targets_line: target 4 of performance.md for gatehouse-tcp.
tcp_targets_line() {
	local t=gatehouse-tcp errs verdict
	[[ -n ${RPS[tcp_conns:$t]:-} ]] || return 0
	errs=$((${ERRS[tcp_conns:$t]:-0} + ${ERRS[tcp_bulk:$t]:-0}))
	verdict=PASS
	((errs == 0)) || verdict=MISS
	printf 'targets (%s): %s; %s; no failed connections: %s %s\n' "$t" \
		"$(check "new conns >= 2.0x socat:" "$(ratio "${RPS[tcp_conns:$t]}" "${RPS[tcp_conns:socat]:-}")" ">=" 2.0)" \
		"$(check "bulk >= 0.9x tcpcopy:" "$(ratio "${RPS[tcp_bulk:$t]:-}" "${RPS[tcp_bulk:tcpcopy]:-}")" ">=" 0.9)" \
		"$errs" "$verdict"
}

# tls_ratios_line: gatehouse-tls against nginx (performance.md sets no
# number for TLS yet).
tls_ratios_line() {
	local t=gatehouse-tls
	[[ -n ${RPS[tls_hs:$t]:-} && -n ${RPS[tls_hs:tls-nginx]:-} ]] || return 0
	printf 'ratios (%s / tls-nginx, no target in performance.md): full handshakes/s %sx (cpu per handshake %sx); keep-alive rps %sx (cpu per request %sx, p99 %sx)\n' "$t" \
		"$(ratio "${RPS[tls_hs:$t]}" "${RPS[tls_hs:tls-nginx]}")" "$(ratio "${COST[tls_hs:$t]:-}" "${COST[tls_hs:tls-nginx]:-}")" \
		"$(ratio "${RPS[tls_ka:$t]:-}" "${RPS[tls_ka:tls-nginx]:-}")" "$(ratio "${COST[tls_ka:$t]:-}" "${COST[tls_ka:tls-nginx]:-}")" \
		"$(ratio "${P99[tls_ka:$t]:-}" "${P99[tls_ka:tls-nginx]:-}")"
}

# gatehouse_logs: what the gatehouse processes logged at warn or above.
gatehouse_logs() {
	local t f n
	for t in gatehouse gatehouse-nethttp gatehouse-tcp gatehouse-tls; do
		f="$tmp/$t.log"
		[[ -s $f ]] || continue
		cp "$f" "$results/$t.log"
		n=$(grep -c . "$f" || true)
		printf '%s logged %s line(s) at warn or above (bench/results/%s/%s.log); first ones:\n' "$t" "$n" "$stamp" "$t"
		head -5 "$f" | cut -c1-300 | sed 's/^/  /'
	done
}

# ---------------------------------------------------------------- main

main() {
	select_targets
	ensure_tools
	mkdir -p "$results"
	build
	versions >"$results/versions.txt"
	start_targets
	log "targets up: $(printf '%s\n' "${!URL[@]}" "${!ADDR[@]}" | sort -u | tr '\n' ' ')"
	{
		printf 'gatehouse peers benchmark, %s, %s, %s CPUs\n' "$(date '+%Y-%m-%d %H:%M %Z')" "$(uname -sr)" "$(nproc)"
		printf '%s interleaved round(s), medians; loopback\n' "$ROUNDS"
		sed 's/^/  /' "$results/versions.txt"
	} >"$results/summary.txt"

	if any_selected "${HTTP_TARGETS[@]}"; then
		run_scenario http http -- "${HTTP_TARGETS[@]}"
		summarize http "${HTTP_TARGETS[@]}"
		{
			printf '\nHTTP/1.1 keep-alive, wrk -t1 -c%s -d%ss; upstream: nginx, 1 worker, return 200 "hello"\n' "$CONNS" "$DURATION"
			printf 'gatehouse: %d hosts x %d routes, request to %s%s (route %d of %d)\n' \
				"$GH_HOSTS" "$GH_ROUTES" "$REQ_HOST" "$REQ_PATH" "$GH_ROUTES" "$GH_ROUTES"
			table caddy nginx "${HTTP_TARGETS[@]}"
			legend
			http_targets_line gatehouse
			http_targets_line gatehouse-nethttp
		} >>"$results/summary.txt"
	fi
	if any_selected "${TCP_TARGETS[@]}"; then
		run_scenario tcp tcp_conns tcp_bulk -- "${TCP_TARGETS[@]}"
		summarize tcp_conns "${TCP_TARGETS[@]}"
		summarize tcp_bulk "${TCP_TARGETS[@]}"
		{
			printf '\nTCP forwarding; upstream: tcpload serve (echo; count-and-discard for bulk)\n'
			printf 'conn/s: tcpload conns -c %s -d %ss (connect, 16-byte echo, close); bulk: %s over %s connection(s), MB = 10^6 bytes\n' \
				"$CONNS" "$DURATION" "$BULK_BYTES" "$BULK_CONNS"
			tcp_table "${TCP_TARGETS[@]}"
			legend
			cost_legend
			tcp_targets_line
		} >>"$results/summary.txt"
	fi
	if any_selected "${TLS_TARGETS[@]}"; then
		run_scenario tls tls_hs tls_ka -- "${TLS_TARGETS[@]}"
		summarize tls_hs "${TLS_TARGETS[@]}"
		summarize tls_ka "${TLS_TARGETS[@]}"
		{
			printf '\nTLS termination in front of the HTTP upstream (nginx, return 200 "hello"); certificate: %s; TLS 1.3\n' \
				"$([[ $TLS_KEY == rsa ]] && echo 'RSA 2048' || echo 'ECDSA P-256')"
			printf 'hs/s: tlsload -c %s -d %ss -curve %s (full handshake, one GET, close); ka: wrk -t1 -c%s -d%ss https:// keep-alive\n' \
				"$CONNS" "$DURATION" "$TLS_CURVE" "$CONNS" "$DURATION"
			tls_table "${TLS_TARGETS[@]}"
			legend
			cost_legend
			tls_ratios_line
		} >>"$results/summary.txt"
	fi
	{
		for t in "${skipped[@]}"; do printf 'skipped %s\n' "$t"; done
		gatehouse_logs
		printf 'raw outputs: bench/results/%s/\n' "$stamp"
	} >>"$results/summary.txt"
	echo
	cat "$results/summary.txt"
}

main "$@"
