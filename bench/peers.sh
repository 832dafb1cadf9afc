#!/usr/bin/env bash
# bench/peers.sh: gatehouse side by side with its peers, on loopback.
#
# Run from the repository root:
#
#   bench/peers.sh                         # HTTP scenario, every target
#   TARGETS="direct caddy gatehouse" bench/peers.sh
#   TARGETS=tcp bench/peers.sh             # TCP forwarding scenario
#   TARGETS=tls bench/peers.sh             # TLS termination scenario
#   TARGETS=reload bench/peers.sh          # reloads under load
#   TARGETS=idle bench/peers.sh            # 10 000 idle keep-alive connections
#   TARGETS=scale bench/peers.sh           # 10 000 hosts x 10 routes
#   TARGETS=all bench/peers.sh             # all of the above
#   DURATION=6 ROUNDS=2 CONNS=50 bench/peers.sh
#   REV=HEAD bench/peers.sh                # gatehouse as committed, not the work tree
#
# Targets (TARGETS, space separated; "http", "tcp", "tls", "reload", "idle",
# "scale" and "all" are groups):
#   http:   direct nginx haproxy caddy naive gatehouse gatehouse-nethttp gatehouse-bare
#           (and gatehouse-nolog, only when named)
#   tcp:    tcp-direct socat tcpcopy gatehouse-tcp
#   tls:    tls-nginx gatehouse-tls
#   reload: gatehouse-reload
#   idle:   gatehouse-idle naive-idle nginx-idle
#   scale:  gatehouse-scale
#
# Each scenario has one or more measurements:
#   http:   HTTP/1.1 keep-alive, `wrk -t1 -cCONNS -dDURATIONs --latency`, every
#           request with a JWT; gatehouse with policies and access log on,
#           gatehouse-bare with neither, gatehouse-nolog with policies only
#   tcp:    new connections/s (`tcpload conns`: CONNS clients, connect, echo
#           16 bytes, close) and bulk throughput (`tcpload bulk`: BULK_BYTES
#           over BULK_CONNS connections to a discarding upstream)
#   tls:    full handshakes/s (`tlsload`: CONNS clients, handshake without
#           resumption, one GET, close) and HTTPS keep-alive (wrk https://)
#   reload: a wrk run of RELOAD_DURATION s during which `reloader` rewrites a
#           VirtualService and has it reloaded every RELOAD_GAP ms
#   idle:   resident memory before and with IDLE_CONNS idle keep-alive
#           connections (`idleconns`)
#   scale:  SCALE_HOSTS x SCALE_ROUTES: time to ready, RSS, reload time
# The http, tcp and tls measurements are interleaved over ROUNDS rounds
# (A B C ... A B C ...) and compared by ratios within this run only (see
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
# HTTP: whether nginx and caddy write an access log as gatehouse does (1), or
# not (0, as before); the access logs are cut to their first lines at the
# end unless KEEP_ACCESS_LOGS=1 (they are hundreds of MB).
PEER_LOGS=${PEER_LOGS:-1}
KEEP_ACCESS_LOGS=${KEEP_ACCESS_LOGS:-0}
# Reload under load: a wrk run of RELOAD_DURATION s; reloads start 1 s in and
# stop 1 s before its end, each RELOAD_GAP ms after the previous one was done;
# every RELOAD_WATCH_EVERY-th is left to the file watcher, the rest are SIGHUP.
RELOAD_DURATION=${RELOAD_DURATION:-30}
RELOAD_GAP=${RELOAD_GAP:-50}
RELOAD_WATCH_EVERY=${RELOAD_WATCH_EVERY:-5}
# Idle connections: IDLE_CONNS keep-alive connections, measured IDLE_SETTLE s
# after they are all open.
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_SETTLE=${IDLE_SETTLE:-3}
# Scale: SCALE_HOSTS hosts x SCALE_ROUTES routes, SCALE_RELOADS reloads, each
# allowed SCALE_TIMEOUT s (also the time allowed to get ready).
SCALE_HOSTS=${SCALE_HOSTS:-10000}
SCALE_ROUTES=${SCALE_ROUTES:-10}
SCALE_RELOADS=${SCALE_RELOADS:-5}
SCALE_TIMEOUT=${SCALE_TIMEOUT:-180}

HTTP_TARGETS=(direct nginx haproxy caddy naive gatehouse gatehouse-nethttp gatehouse-nolog gatehouse-bare)
HTTP_GROUP=(direct nginx haproxy caddy naive gatehouse gatehouse-nethttp gatehouse-bare)
TCP_TARGETS=(tcp-direct socat tcpcopy gatehouse-tcp)
TLS_TARGETS=(tls-nginx gatehouse-tls)
RELOAD_TARGETS=(gatehouse-reload)
IDLE_TARGETS=(gatehouse-idle naive-idle nginx-idle)
SCALE_TARGETS=(gatehouse-scale)
ALL_TARGETS=("${HTTP_TARGETS[@]}" "${TCP_TARGETS[@]}" "${TLS_TARGETS[@]}" "${RELOAD_TARGETS[@]}" "${IDLE_TARGETS[@]}" "${SCALE_TARGETS[@]}")
ALL_GROUP=("${HTTP_GROUP[@]}" "${TCP_TARGETS[@]}" "${TLS_TARGETS[@]}" "${RELOAD_TARGETS[@]}" "${IDLE_TARGETS[@]}" "${SCALE_TARGETS[@]}")

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

TOKEN=""        # the JWT every HTTP request carries (needs_token)
pids=()         # every process started here
declare -A URL  # target -> URL wrk loads (http, tls)
declare -A ADDR # target -> host:port tcpload/tlsload load (tcp, tls)
declare -A PID  # target -> its process
skipped=()     # targets not measured, with why
notes=()       # what a build could not do that the scenario asked for

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
		http) for g in "${HTTP_GROUP[@]}"; do SELECTED[$g]=1; done ;;
		tcp) for g in "${TCP_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		tls) for g in "${TLS_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		reload) for g in "${RELOAD_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		idle) for g in "${IDLE_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		scale) for g in "${SCALE_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		all) for g in "${ALL_GROUP[@]}"; do SELECTED[$g]=1; done ;;
		*)
			[[ " ${ALL_TARGETS[*]} " == *" $t "* ]] ||
				die "unknown target $t (want http, tcp, tls, reload, idle, scale, all or one of: ${ALL_TARGETS[*]})"
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

# needs_nginx: the HTTP upstream (nginx) serves every scenario but tcp.
needs_nginx() { any_selected "${HTTP_TARGETS[@]}" "${TLS_TARGETS[@]}" "${RELOAD_TARGETS[@]}" "${IDLE_TARGETS[@]}" "${SCALE_TARGETS[@]}"; }
# needs_token: the HTTP and reload scenarios send a JWT with every request.
needs_token() { any_selected "${HTTP_TARGETS[@]}" "${RELOAD_TARGETS[@]}" "${IDLE_TARGETS[@]}"; }
# gatehouse_selected: any gatehouse target with the realistic config.
gatehouse_selected() {
	any_selected gatehouse gatehouse-nethttp gatehouse-nolog gatehouse-bare "${RELOAD_TARGETS[@]}" gatehouse-idle "${SCALE_TARGETS[@]}"
}

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
	{ gatehouse_selected || needs_token; } && go build -o "$tmp/bin/ghconfig" ./bench/ghconfig
	any_selected "${RELOAD_TARGETS[@]}" "${SCALE_TARGETS[@]}" && go build -o "$tmp/bin/reloader" ./bench/reloader
	any_selected "${IDLE_TARGETS[@]}" && go build -o "$tmp/bin/idleconns" ./bench/idleconns
	any_selected naive naive-idle && go build -o "$tmp/bin/naiveproxy" ./bench/naiveproxy
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

# stop_target NAME: stops a target started by spawn (SIGTERM, then SIGKILL
# after 10 s) and forgets it.
stop_target() {
	local name=$1 pid i p keep=()
	pid=${PID[$name]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in "${pids[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	pids=("${keep[@]}")
	unset "PID[$name]"
}

# rss_kib PID: resident memory (VmRSS) of PID and its children, in KiB.
rss_kib() {
	local p sum=0 kb
	for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
		kb=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null) || kb=0
		sum=$((sum + ${kb:-0}))
	done
	echo "$sum"
}
# hwm_kib PID: peak resident memory (VmHWM) of PID, in KiB; with children
# (nginx workers), the sum of their peaks.
hwm_kib() {
	local p sum=0 kb
	for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
		kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$p/status" 2>/dev/null) || kb=0
		sum=$((sum + ${kb:-0}))
	done
	echo "$sum"
}
# mib KIB: KiB as MiB, one decimal.
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# http_status PORT HOST PATH: prints the status code of one GET (with the
# JWT, when there is one).
http_status() (
	exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
	auth=""
	[[ -n $TOKEN ]] && auth="Authorization: Bearer $TOKEN"$'\r\n'
	printf 'GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n' "$3" "$2" "$auth" >&3
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

# nginx_conf DIR WORKERS LISTEN HTTP_EXTRA SERVER_BODY [WORKER_CONNECTIONS]:
# writes DIR/nginx.conf with one server listening on 127.0.0.1:LISTEN ("8080"
# or "8443 ssl"), access log off unless SERVER_BODY turns it on.
nginx_conf() {
	local wc=${6:-4096}
	mkdir -p "$1"
	cat >"$1/nginx.conf" <<EOF
worker_processes $2;
worker_rlimit_nofile $((2 * wc + 1024));
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections $wc; }
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

# NGINX_LOG_FORMAT: a JSON access log line with about the fields of
# gatehouse's (Istio's) default JSON line.
# shellcheck disable=SC2016 # nginx's variables
NGINX_LOG_FORMAT='log_format ghjson escape=json '"'"'{"start_time":"$time_iso8601","method":"$request_method",'"'"'
        '"'"'"path":"$request_uri","protocol":"$server_protocol","response_code":$status,'"'"'
        '"'"'"bytes_received":$request_length,"bytes_sent":$bytes_sent,"duration":$request_time,'"'"'
        '"'"'"upstream_service_time":"$upstream_response_time","x_forwarded_for":"$http_x_forwarded_for",'"'"'
        '"'"'"user_agent":"$http_user_agent","request_id":"$http_x_request_id","authority":"$host",'"'"'
        '"'"'"upstream_host":"$upstream_addr","downstream_local_address":"$server_addr:$server_port",'"'"'
        '"'"'"downstream_remote_address":"$remote_addr:$remote_port"}'"'"';'

# start_peer_nginx NAME [WORKER_CONNECTIONS]: the nginx peer ("nginx", or
# "nginx-idle" for the idle scenario, with more connections and no log).
start_peer_nginx() {
	local name=${1:-nginx} wc=${2:-} port extra="" logs=""
	free_port port
	extra="upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; }"
	if [[ $name == nginx && $PEER_LOGS == 1 ]]; then
		# Buffered as gatehouse's log is (it writes batches of up to 64 KiB).
		extra+=$'\n    '"$NGINX_LOG_FORMAT"
		logs="access_log $results/nginx-access.log ghjson buffer=64k flush=1s;"
	fi
	# shellcheck disable=SC2016 # $host is nginx's variable
	nginx_conf "$tmp/$name" auto "$port" "$extra" \
		"$logs"' location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }' "$wc"
	spawn "$name" nginx -p "$tmp/$name" -c "$tmp/$name/nginx.conf" -e "$tmp/$name/error.log"
	wait_ready "$name" "$port"
	URL[$name]="http://127.0.0.1:$port$REQ_PATH"
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
$([[ $PEER_LOGS == 1 ]] && printf '    log {\n        output file %s {\n            roll_disabled\n        }\n        format json\n    }\n' "$results/caddy-access.log")
}
EOF
	spawn caddy env HOME="$tmp/caddy" XDG_CONFIG_HOME="$tmp/caddy" XDG_DATA_HOME="$tmp/caddy" \
		caddy run --config "$tmp/caddy/Caddyfile" --adapter caddyfile
	wait_ready caddy "$port"
	URL[caddy]="http://127.0.0.1:$port$REQ_PATH"
}

# start_naive [NAME]: the naive Go proxy (as "naive" unless NAME is given).
start_naive() {
	local name=${1:-naive} port
	free_port port
	spawn "$name" "$tmp/bin/naiveproxy" "127.0.0.1:$port" "127.0.0.1:$UP_PORT"
	wait_ready "$name" "$port"
	URL[$name]="http://127.0.0.1:$port$REQ_PATH"
}

# gatehouse_config DIR PORT [OPTION...]: writes the realistic config (see
# bench/config.go: same hosts, routes and match mix; bench/ghconfig writes
# it) for a Gateway on 127.0.0.1:PORT. OPTIONs: "policies" (the
# RequestAuthentication and three AuthorizationPolicies of
# BenchmarkSecurity, signed with the run's key so that TOKEN passes them),
# "log=FILE" (the access log, JSON, to FILE), "hosts=N" and "routes=N"
# (instead of GH_HOSTS and GH_ROUTES).
gatehouse_config() {
	local dir=$1 port=$2 o args=()
	local hosts=$GH_HOSTS routes=$GH_ROUTES
	shift 2
	for o in "$@"; do
		case $o in
		policies) args+=(-security -key "$tmp/jwt-key.pem" -token "$tmp/jwt-token.$$") ;;
		log=*) args+=(-access-log "${o#log=}" -access-log-encoding JSON) ;;
		hosts=*) hosts=${o#hosts=} ;;
		routes=*) routes=${o#routes=} ;;
		*) die "gatehouse_config: unknown option $o" ;;
		esac
	done
	"$tmp/bin/ghconfig" -dir "$dir" -port "$port" -upstream "127.0.0.1:$UP_PORT" \
		-hosts "$hosts" -routes "$routes" "${args[@]}" || die "bench/ghconfig failed"
}

# make_token: the signing key and the JWT every HTTP request carries (all
# targets get the same request, so the same bytes to forward).
make_token() {
	"$tmp/bin/ghconfig" -dir "$tmp/jwt" -upstream 127.0.0.1:9 -hosts 1 -routes 1 \
		-security -key "$tmp/jwt-key.pem" -token "$tmp/jwt-token" || die "bench/ghconfig failed"
	TOKEN=$(cat "$tmp/jwt-token")
}

# start_gatehouse NAME ENGINE [OPTION...]: gatehouse on the realistic config
# (OPTIONs as for gatehouse_config; "level=L" sets the log level, warn by
# default).
start_gatehouse() {
	local name=$1 engine=$2 port admin level=warn o out opts=()
	shift 2
	for o in "$@"; do
		case $o in
		level=*) level=${o#level=} ;;
		*) opts+=("$o") ;;
		esac
	done
	free_port port
	free_port admin
	gatehouse_config "$tmp/$name" "$port" "${opts[@]}"
	out=$(gatehouse_validate "$name" "$tmp/$name")
	if [[ $out == *"skipping RequestAuthentication"* || $out == *"skipping AuthorizationPolicy"* ]]; then
		# Builds before authorization (REV= an older commit) skip the policies.
		log "$name: this build does not implement the policies"
		notes+=("$name: this build skips RequestAuthentication and AuthorizationPolicy: measured WITHOUT policies")
	fi
	spawn "$name" "$tmp/bin/gatehouse" run --config "$tmp/$name" --admin "127.0.0.1:$admin" \
		--upstream-engine "$engine" --drain-timeout 2s --log-level "$level"
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
	needs_token && make_token
	selected nginx && start_peer_nginx nginx
	selected haproxy && start_haproxy
	selected caddy && start_caddy
	selected naive && start_naive
	selected gatehouse && start_gatehouse gatehouse gatehouse policies "log=$results/gatehouse-access.log"
	selected gatehouse-nethttp && start_gatehouse gatehouse-nethttp net/http policies "log=$results/gatehouse-nethttp-access.log"
	selected gatehouse-nolog && start_gatehouse gatehouse-nolog gatehouse policies
	selected gatehouse-bare && start_gatehouse gatehouse-bare gatehouse
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

load_http() { wrk -t1 -c"$CONNS" -d"${2}s" --latency -H "Host: $REQ_HOST" -H "Authorization: Bearer $TOKEN" "${URL[$1]}" >"$3" 2>&1 || true; }
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

# check LABEL VALUE OP BOUND [UNIT]: "LABEL VALUE UNIT PASS|MISS"; OP is >=,
# <= or <; UNIT is "x" unless given (" MiB").
check() {
	local v=$2 unit=${5-x} verdict
	if [[ $v == - ]]; then
		printf '%s n/a' "$1"
		return
	fi
	verdict=$(awk -v v="$v" -v op="$3" -v b="$4" 'BEGIN {
		ok = (op == ">=") ? v >= b : (op == "<") ? v < b : v <= b
		print ok ? "PASS" : "MISS" }')
	printf '%s %s%s %s' "$1" "$v" "$unit" "$verdict"
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

# gatehouse_logs: the gatehouse logs, copied to the results when not empty,
# with the lines at warn or above (the reload and scale targets log at info).
gatehouse_logs() {
	local t f n
	for t in gatehouse gatehouse-nethttp gatehouse-nolog gatehouse-bare gatehouse-tcp gatehouse-tls \
		gatehouse-reload gatehouse-idle gatehouse-scale; do
		f="$tmp/$t.log"
		[[ -s $f ]] || continue
		cp "$f" "$results/$t.log"
		n=$(grep -c -E 'level=(WARN|ERROR)' "$f" || true)
		((n > 0)) || continue
		printf '%s logged %s line(s) at warn or above (bench/results/%s/%s.log); first ones:\n' "$t" "$n" "$stamp" "$t"
		grep -E 'level=(WARN|ERROR)' "$f" | head -5 | cut -c1-300 | sed 's/^/  /'
	done
}

# ---- target 2, and the access logs

# policy_line: target 2 of performance.md, gatehouse (policies and access
# log on) against gatehouse-bare (neither), and gatehouse-nolog (policies
# only) when it ran.
policy_line() {
	local p=gatehouse b=gatehouse-bare n=gatehouse-nolog
	[[ -n ${RPS[http:$p]:-} && -n ${RPS[http:$b]:-} ]] || return 0
	printf 'target 2 (%s / %s: JWT RS256 + 3 AuthorizationPolicies + JSON access log): %s; p99 %sx\n' "$p" "$b" \
		"$(check "rps >= 0.90x bare (cost <= 10%):" "$(ratio "${RPS[http:$p]}" "${RPS[http:$b]}")" ">=" 0.90)" \
		"$(ratio "${P99[http:$p]}" "${P99[http:$b]}")"
	[[ -n ${RPS[http:$n]:-} ]] || return 0
	printf '  policies only (%s / %s): rps %sx; access log only (%s / %s): rps %sx\n' "$n" "$b" \
		"$(ratio "${RPS[http:$n]}" "${RPS[http:$b]}")" "$p" "$n" "$(ratio "${RPS[http:$p]}" "${RPS[http:$n]}")"
}

# requests_sent TARGET: the requests wrk completed against TARGET, all runs.
requests_sent() {
	cat "$results"/*-"$1".txt 2>/dev/null | awk '/ requests in / { s += $1 } END { print s + 0 }'
}

# access_log_counts TARGET...: the lines of each target's access log
# against the requests wrk completed to it (a few readiness checks more).
access_log_counts() {
	local t f out=""
	sleep 1.5 # nginx flushes its buffer every second
	for t in "$@"; do
		f="$results/$t-access.log"
		if [[ ! -f $f ]]; then
			[[ $t != gatehouse* || -z ${PID[$t]:-} ]] || out+="$t NO ACCESS LOG WRITTEN; "
			continue
		fi
		out+="$(printf '%s %s/%s; ' "$t" "$(wc -l <"$f")" "$(requests_sent "$t")")"
	done
	[[ -z $out ]] || printf 'access log lines / requests wrk completed (plus a few readiness checks): %s\n' "${out%; }"
}

# trim_access_logs: each access log becomes its first 20 lines
# (NAME-access.log.head), unless KEEP_ACCESS_LOGS=1.
trim_access_logs() {
	local f
	[[ $KEEP_ACCESS_LOGS == 1 ]] && return 0
	for f in "$results"/*-access.log; do
		[[ -f $f ]] || continue
		head -n 20 "$f" >"$f.head"
		rm -f "$f"
	done
}

# forget_pid PID: drops a finished process from the list cleanup stops.
forget_pid() {
	local p keep=()
	for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	pids=("${keep[@]}")
}

# ---- reload under load (target 5)

# kv KEY FILE: the value of KEY=... on the "result" line of FILE, or "-".
kv() { awk -v k="$1" '/^result / { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) v = a[2] } } END { print (v == "" ? "-" : v) }' "$2"; }

RELOAD_MIN=${RELOAD_MIN:-200}
run_reload() {
	local name=gatehouse-reload steady reloading rout wpid before after logged t rate p50 p99 err bad reqs errs verdict
	SCENARIO=reload
	log "reload: starting $name (policies and access log on, log level info)"
	start_gatehouse "$name" gatehouse policies "log=$results/$name-access.log" level=info
	((WARMUP > 0)) && load_http "$name" "$WARMUP" "$results/reload-warmup-$name.txt"
	steady="$results/reload-steady-$name.txt"
	reloading="$results/reload-reloading-$name.txt"
	rout="$results/reload-reloader.txt"
	log "reload: ${DURATION}s of load without reloads"
	load_http "$name" "$DURATION" "$steady"
	log "reload: ${RELOAD_DURATION}s of load, reloading every ${RELOAD_GAP} ms from 1 s in to 1 s before the end"
	before=$(grep -c 'configuration reloaded' "$tmp/$name.log" || true)
	wrk -t1 -c"$CONNS" -d"${RELOAD_DURATION}s" --latency -H "Host: $REQ_HOST" -H "Authorization: Bearer $TOKEN" \
		"${URL[$name]}" >"$reloading" 2>&1 &
	wpid=$!
	pids+=("$wpid")
	sleep 1
	"$tmp/bin/reloader" -dir "$tmp/$name" -log "$tmp/$name.log" -pid "${PID[$name]}" \
		-host $((GH_HOSTS - 1)) -routes "$GH_ROUTES" -d "$((RELOAD_DURATION - 2))s" \
		-gap "${RELOAD_GAP}ms" -watch-every "$RELOAD_WATCH_EVERY" >"$rout" 2>&1 || true
	wait "$wpid" || true
	forget_pid "$wpid"
	after=$(grep -c 'configuration reloaded' "$tmp/$name.log" || true)
	logged=$((after - before))
	kill -0 "${PID[$name]}" 2>/dev/null || die "$name exited during the reloads (see $tmp/$name.log)"
	{
		printf '\nReload under load (target 5): wrk -t1 -c%s; gatehouse on %d hosts x %d routes, policies and access log on;\n' \
			"$CONNS" "$GH_HOSTS" "$GH_ROUTES"
		printf 'during the second run, bench/reloader rewrites %s (two versions, both routing the request)\n' "vs/vs-$(printf %03d $((GH_HOSTS - 1))).yaml"
		printf 'by rename, O_TRUNC write and ConfigMap-style ..data symlink swap in turn; SIGHUP, or every %sth change the file watcher;\n' "$RELOAD_WATCH_EVERY"
		printf 'the next change %s ms after the previous reload was logged\n' "$RELOAD_GAP"
		printf '%-10s %4s %9s %8s %8s %8s %11s %8s %8s\n' run s requests rps "p50 ms" "p99 ms" "socket err" non-2xx reloads
		for t in steady reloading; do
			local f="$results/reload-$t-$name.txt" s=$DURATION n=0
			[[ $t == reloading ]] && s=$RELOAD_DURATION n=$logged
			read -r rate p50 p99 err bad < <(parse_wrk "$f")
			reqs=$(awk '/ requests in / { print $1 }' "$f")
			printf '%-10s %4s %9s %8s %8.2f %8.2f %11s %8s %8s\n' "$t" "$s" "${reqs:-0}" "$rate" "$p50" "$p99" "$err" "$bad" "$n"
		done
		printf 'reloader: %s change(s), %s reload(s) seen, %s rejected, %s not seen within 10 s; by way and trigger: %s\n' \
			"$(kv changes "$rout")" "$(kv reloads "$rout")" "$(kv rejected "$rout")" "$(kv timeouts "$rout")" \
			"$(awk '/^changes / { sub(/^changes /, ""); printf "%s ", $0 }' "$rout")"
		printf 'reload time: gatehouse took= p50 %s ms, max %s ms; change to log line p50 %s ms, max %s ms (watcher reloads include the 150 ms debounce)\n' \
			"$(kv took_p50_ms "$rout")" "$(kv took_max_ms "$rout")" "$(kv wall_p50_ms "$rout")" "$(kv wall_max_ms "$rout")"
		read -r rate p50 p99 err bad < <(parse_wrk "$reloading")
		errs=$((err + bad))
		verdict=PASS
		((errs == 0)) || verdict=MISS
		printf 'targets (%s): %s; failed requests (socket errors + non-2xx) = 0: %s %s; rps while reloading %sx steady\n' "$name" \
			"$(check "reloads >= $RELOAD_MIN:" "$logged" ">=" "$RELOAD_MIN" "")" "$errs" "$verdict" \
			"$(ratio "$rate" "$(parse_wrk "$steady" | awk '{ print $1 }')")"
		access_log_counts "$name"
	} >>"$results/summary.txt"
	stop_target "$name"
}

# ---- idle keep-alive connections (target 6)

# raise_nofile N: raises this shell's open-files limit (and so that of the
# processes it starts from now on) to N.
raise_nofile() {
	local want=$1 hard
	(($(ulimit -Sn) >= want)) && return 0
	hard=$(ulimit -Hn)
	if [[ $hard != unlimited ]] && ((hard < want)); then
		ulimit -Hn "$want" 2>/dev/null || true
	fi
	ulimit -Sn "$want" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
	log "open files limit: $(ulimit -Sn)"
	(($(ulimit -Sn) >= IDLE_CONNS + 1024)) ||
		die "cannot raise the open files limit to $want (it is $(ulimit -Sn)); raise the hard limit (ulimit -Hn) or lower IDLE_CONNS"
}

declare -A IDLE_OPEN IDLE_FAILED IDLE_CLOSED IDLE_BEFORE IDLE_WITH IDLE_AFTER IDLE_HWM IDLE_TOOK
# idle_one NAME: starts NAME, loads it briefly, then measures its resident
# memory before, with IDLE_CONNS idle connections, and after they closed.
idle_one() {
	local name=$1 pid hostport out ipid i
	case $name in
	gatehouse-idle) start_gatehouse "$name" gatehouse policies "log=$results/$name-access.log" ;;
	naive-idle) start_naive "$name" ;;
	nginx-idle) start_peer_nginx "$name" $((IDLE_CONNS + 4096)) ;;
	esac
	pid=${PID[$name]}
	hostport=${URL[$name]#http://}
	hostport=${hostport%%/*}
	# Serve some traffic first, as a gateway in use has.
	load_http "$name" 2 "$results/idle-warm-$name.txt"
	sleep 2
	IDLE_BEFORE[$name]=$(rss_kib "$pid")
	out="$results/idle-$name.txt"
	log "idle: $name: opening $IDLE_CONNS keep-alive connections"
	"$tmp/bin/idleconns" -n "$IDLE_CONNS" -host "$REQ_HOST" -path "$REQ_PATH" -H "Authorization: Bearer $TOKEN" \
		-hold 10m "$hostport" >"$out" 2>&1 &
	ipid=$!
	pids+=("$ipid")
	for ((i = 0; i < 1200; i++)); do
		grep -q '^open ' "$out" && break
		kill -0 "$ipid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^open ' "$out" || {
		cat "$out" >&2
		die "idleconns did not open its connections to $name"
	}
	sleep "$IDLE_SETTLE"
	IDLE_WITH[$name]=$(rss_kib "$pid")
	IDLE_HWM[$name]=$(hwm_kib "$pid")
	kill -TERM "$ipid" 2>/dev/null || true
	wait "$ipid" || true
	forget_pid "$ipid"
	sleep 2
	IDLE_AFTER[$name]=$(rss_kib "$pid")
	IDLE_OPEN[$name]=$(kv open "$out")
	IDLE_CLOSED[$name]=$(kv closed_by_server "$out")
	IDLE_FAILED[$name]=$(kv failed "$out")
	IDLE_TOOK[$name]=$(awk '/^open / { for (i = 2; i <= NF; i++) if ($i ~ /^took=/) print substr($i, 6) }' "$out")
	log "idle: $name: rss $(mib "${IDLE_BEFORE[$name]}") MiB before, $(mib "${IDLE_WITH[$name]}") MiB with ${IDLE_OPEN[$name]} open connections"
	stop_target "$name"
}

run_idle() {
	local t d verdict
	raise_nofile $((IDLE_CONNS + 4096))
	for t in "${IDLE_TARGETS[@]}"; do
		selected "$t" && idle_one "$t"
	done
	{
		printf '\nIdle keep-alive connections (target 6): %s client connections, one GET each (answered, kept alive), then idle;\n' "$IDLE_CONNS"
		printf 'rss (VmRSS, children included) before (after 2 s of wrk -c%s), with the connections open (%s s after), and after they closed\n' "$CONNS" "$IDLE_SETTLE"
		printf '%-15s %6s %6s %7s %11s %9s %10s %10s %9s %9s %10s\n' target open failed closed "rss before" "rss with" "delta MiB" "KiB/conn" "peak" "after" "open took"
		for t in "${IDLE_TARGETS[@]}"; do
			[[ -n ${IDLE_WITH[$t]:-} ]] || continue
			d=$((IDLE_WITH[$t] - IDLE_BEFORE[$t]))
			printf '%-15s %6s %6s %7s %11s %9s %10s %10s %9s %9s %10s\n' "$t" "${IDLE_OPEN[$t]}" "${IDLE_FAILED[$t]}" "${IDLE_CLOSED[$t]}" \
				"$(mib "${IDLE_BEFORE[$t]}")" "$(mib "${IDLE_WITH[$t]}")" "$(mib "$d")" \
				"$(awk -v d="$d" -v n="${IDLE_OPEN[$t]}" 'BEGIN { if (n > 0) printf "%.1f", d / n; else print "-" }')" \
				"$(mib "${IDLE_HWM[$t]}")" "$(mib "${IDLE_AFTER[$t]}")" "${IDLE_TOOK[$t]:--}"
		done
		printf '(MiB; peak: VmHWM, summed over the processes for nginx; open took: time to open all connections and get every answer)\n'
		t=gatehouse-idle
		if [[ -n ${IDLE_WITH[$t]:-} ]]; then
			d=$((IDLE_WITH[$t] - IDLE_BEFORE[$t]))
			verdict=PASS
			[[ ${IDLE_OPEN[$t]} == "$IDLE_CONNS" && ${IDLE_CLOSED[$t]} == 0 && ${IDLE_FAILED[$t]} == 0 ]] || verdict=MISS
			printf 'targets (%s): %s; all %s connections open through the measurement: %s\n' "$t" \
				"$(check "rss delta <= 100 MiB:" "$(mib "$d")" "<=" 100 " MiB")" "$IDLE_CONNS" "$verdict"
		fi
	} >>"$results/summary.txt"
}

# ---- scale (target 3)

run_scale() {
	local name=gatehouse-scale dir=$tmp/gatehouse-scale port admin t0 t1 gen ready pid code="" i rout host path
	local rss_start hwm_start rss_after hwm_after took verdict swap
	free_port port
	free_port admin
	host=$(printf 'h%03d.bench.test' $((SCALE_HOSTS - 1)))
	path="/r$((SCALE_ROUTES - 1))/hello"
	log "scale: writing $SCALE_HOSTS hosts x $SCALE_ROUTES routes"
	t0=$(date +%s.%N)
	gatehouse_config "$dir" "$port" "hosts=$SCALE_HOSTS" "routes=$SCALE_ROUTES"
	t1=$(date +%s.%N)
	gen=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	log "scale: starting gatehouse on $(find "$dir" -name '*.yaml' | wc -l) files (${gen}s to write)"
	t0=$(date +%s.%N)
	spawn "$name" "$tmp/bin/gatehouse" run --config "$dir" --admin "127.0.0.1:$admin" --drain-timeout 2s --log-level info
	pid=${PID[$name]}
	for ((i = 0; i < SCALE_TIMEOUT * 20; i++)); do
		code=$(http_status "$admin" 127.0.0.1 /healthz/ready 2>/dev/null) || code=""
		[[ $code == 200 ]] && break
		kill -0 "$pid" 2>/dev/null || {
			tail -20 "$tmp/$name.log" >&2
			die "$name exited at start"
		}
		sleep 0.05
	done
	[[ $code == 200 ]] || die "$name not ready after ${SCALE_TIMEOUT}s"
	t1=$(date +%s.%N)
	ready=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	wait_ready "$name" "$port" "$host" "$path"
	sleep 2
	rss_start=$(rss_kib "$pid")
	hwm_start=$(hwm_kib "$pid")
	log "scale: ready in ${ready}s, rss $(mib "$rss_start") MiB; $SCALE_RELOADS reloads by the file watcher"
	rout="$results/scale-reloader.txt"
	"$tmp/bin/reloader" -dir "$dir" -log "$tmp/$name.log" -host 0 -routes "$SCALE_ROUTES" -count "$SCALE_RELOADS" \
		-watch-every 1 -methods rename -gap 2s -timeout "${SCALE_TIMEOUT}s" -v >"$rout" 2>&1 || true
	sleep 2
	rss_after=$(rss_kib "$pid")
	hwm_after=$(hwm_kib "$pid")
	code=$(http_status "$port" "$host" "$path" 2>/dev/null) || code=none
	{
		printf '\nScale (target 3): %s hosts x %s routes (%s files), no policies, log level info\n' "$SCALE_HOSTS" "$SCALE_ROUTES" \
			"$(find "$dir" -name '*.yaml' | wc -l)"
		printf '%-16s %9s %16s %17s %17s %11s %16s %16s\n' target "ready s" "rss start MiB" "reload took ms" "reload wall ms" "reloads ok" "rss after MiB" "peak MiB"
		took=$(awk '/^change / { for (i = 1; i <= NF; i++) if ($i ~ /^took=/) { v = substr($i, 6); printf "%s%s", sep, v; sep = " " } }' "$rout")
		printf '%-16s %9s %16s %17s %17s %11s %16s %16s\n' "$name" "$ready" "$(mib "$rss_start")" \
			"$(kv took_p50_ms "$rout")/$(kv took_max_ms "$rout")" "$(kv wall_p50_ms "$rout")/$(kv wall_max_ms "$rout")" \
			"$(kv reloads "$rout")/$(kv changes "$rout")" "$(mib "$rss_after")" "$(mib "$hwm_start")/$(mib "$hwm_after")"
		printf '(ready: from start to /healthz/ready; reload took: gatehouse'"'"'s took= p50/max (decoding, compiling and the swap; not reading the files);\n'
		printf ' wall: file renamed into place to the log line, p50/max, with the 150 ms debounce; rss after: %s s after the last of %s reloads; peak: VmHWM after start/after the reloads; each reload took: %s; request after: %s)\n' \
			2 "$SCALE_RELOADS" "${took:--}" "$code"
		verdict=PASS
		[[ $(kv reloads "$rout") == "$SCALE_RELOADS" ]] || verdict=MISS
		swap=$(kv wall_max_ms "$rout")
		[[ $swap == - ]] || swap=$(awk -v w="$swap" 'BEGIN { printf "%.0f", w - 150 }')
		printf 'targets (%s): %s; %s; %s; every reload done: %s\n' "$name" \
			"$(check "reload < 1 s (max wall - 150 ms debounce):" "$swap" "<" 1000 " ms")" \
			"$(check "rss after start < 200 MiB:" "$(mib "$rss_start")" "<" 200 " MiB")" \
			"$(check "rss after reloads < 200 MiB:" "$(mib "$rss_after")" "<" 200 " MiB")" "$verdict"
	} >>"$results/summary.txt"
	stop_target "$name"
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
			printf 'gatehouse: %d hosts x %d routes, request to %s%s (route %d of %d); every request carries an RS256 JWT (%d-byte header)\n' \
				"$GH_HOSTS" "$GH_ROUTES" "$REQ_HOST" "$REQ_PATH" "$GH_ROUTES" "$GH_ROUTES" $((${#TOKEN} + 22))
			printf 'gatehouse, gatehouse-nethttp: RequestAuthentication + 3 AuthorizationPolicies + JSON access log to a file; gatehouse-nolog: policies only; gatehouse-bare: neither\n'
			if [[ $PEER_LOGS == 1 ]]; then
				printf 'nginx: JSON access log to a file (buffer=64k flush=1s); caddy: its JSON access log to a file; haproxy, naive: no log\n'
			else
				printf 'peers: no access log (PEER_LOGS=0)\n'
			fi
			table caddy nginx "${HTTP_TARGETS[@]}"
			legend
			http_targets_line gatehouse
			http_targets_line gatehouse-nethttp
			policy_line
			access_log_counts gatehouse gatehouse-nethttp nginx caddy
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
	any_selected "${RELOAD_TARGETS[@]}" && run_reload
	any_selected "${IDLE_TARGETS[@]}" && run_idle
	any_selected "${SCALE_TARGETS[@]}" && run_scale
	trim_access_logs
	{
		for t in "${skipped[@]}"; do printf 'skipped %s\n' "$t"; done
		for t in "${notes[@]}"; do printf 'NOTE: %s\n' "$t"; done
		if [[ $KEEP_ACCESS_LOGS != 1 ]] && compgen -G "$results/*-access.log.head" >/dev/null; then
			printf 'access logs cut to their first 20 lines (*-access.log.head; KEEP_ACCESS_LOGS=1 keeps them whole)\n'
		fi
		gatehouse_logs
		printf 'raw outputs: bench/results/%s/\n' "$stamp"
	} >>"$results/summary.txt"
	echo
	cat "$results/summary.txt"
}

main "$@"
