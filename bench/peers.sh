#!/usr/bin/env bash
# bench/peers.sh: gatehouse side by side with its peers, on loopback.
#
# Run from the repository root:
#
#   bench/peers.sh                         # HTTP scenario, every target
#   TARGETS="direct caddy gatehouse" bench/peers.sh
#   TARGETS=tcp bench/peers.sh             # TCP forwarding scenario
#   DURATION=6 ROUNDS=2 CONNS=50 bench/peers.sh
#   REV=HEAD bench/peers.sh                # gatehouse as committed, not the work tree
#
# Targets (TARGETS, space separated; "http", "tcp" and "all" are groups):
#   http: direct nginx haproxy caddy naive gatehouse gatehouse-nethttp
#   tcp:  tcp-direct socat tcpcopy gatehouse-tcp
#
# Every target is measured with `wrk -t1 -cCONNS -dDURATIONs --latency`,
# interleaved over ROUNDS rounds (A B C ... A B C ...), and compared by
# ratios within this run only (see shared/docs/performance.md). Raw wrk
# outputs go to bench/results/<date>/. Every process started here is
# stopped on exit.
set -euo pipefail

DURATION=${DURATION:-6}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-50}
WARMUP=${WARMUP:-1}   # seconds of unrecorded load per target before round 1; 0: none
TARGETS=${TARGETS:-http}
REV=${REV:-}          # a git revision to build gatehouse from instead of the working tree

HTTP_TARGETS=(direct nginx haproxy caddy naive gatehouse gatehouse-nethttp)
TCP_TARGETS=(tcp-direct socat tcpcopy gatehouse-tcp)

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

pids=()        # every process started here
declare -A URL # target -> URL measured
declare -A PID # target -> its process
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
		all) for g in "${HTTP_TARGETS[@]}" "${TCP_TARGETS[@]}"; do SELECTED[$g]=1; done ;;
		*)
			[[ " ${HTTP_TARGETS[*]} ${TCP_TARGETS[*]} " == *" $t "* ]] ||
				die "unknown target $t (want http, tcp, all or one of: ${HTTP_TARGETS[*]} ${TCP_TARGETS[*]})"
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

ensure_tools() {
	local need=(wrk nginx) missing=() tool
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
	wrk -v 2>&1 | head -1 || true
	nginx -v 2>&1
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

# ---------------------------------------------------------------- processes

# nginx_conf DIR WORKERS SERVER_BLOCK [HTTP_EXTRA]: writes DIR/nginx.conf.
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
	URL[tcp-direct]=${URL[direct]}
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

# ---- TCP scenario: plain TCP forwarders in front of the same upstream.

start_socat() {
	local port
	free_port port
	spawn socat socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr,backlog=1024" "TCP:127.0.0.1:$UP_PORT"
	wait_ready socat "$port"
	URL[socat]="http://127.0.0.1:$port$REQ_PATH"
}

start_tcpcopy() {
	local port
	free_port port
	spawn tcpcopy "$tmp/bin/tcpcopy" "127.0.0.1:$port" "127.0.0.1:$UP_PORT"
	wait_ready tcpcopy "$port"
	URL[tcpcopy]="http://127.0.0.1:$port$REQ_PATH"
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
    ports: {tcp: $UP_PORT}
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
	out=$("$tmp/bin/gatehouse" validate --config "$dir" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "the gatehouse TCP config is invalid"
	}
	if [[ $out == *"not served"* || $out != *"$port"* ]]; then
		printf '%s\n' "$out" >&2
		log "gatehouse TCP forwarding not available in this build: skipping gatehouse-tcp"
		skipped+=("gatehouse-tcp: TCP forwarding not available in this build")
		return
	fi
	spawn gatehouse-tcp "$tmp/bin/gatehouse" run --config "$dir" --admin "127.0.0.1:$admin" --drain-timeout 2s --log-level warn
	wait_ready gatehouse-tcp "$port"
	URL[gatehouse-tcp]="http://127.0.0.1:$port$REQ_PATH"
}

start_targets() {
	start_upstream
	selected nginx && start_peer_nginx
	selected haproxy && start_haproxy
	selected caddy && start_caddy
	selected naive && start_naive
	selected gatehouse && start_gatehouse gatehouse gatehouse
	selected gatehouse-nethttp && start_gatehouse gatehouse-nethttp net/http
	selected socat && start_socat
	selected tcpcopy && start_tcpcopy
	selected gatehouse-tcp && start_gatehouse_tcp
	return 0
}

# ---------------------------------------------------------------- measuring

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

# measure NAME URL HOST [WRK ARGS...]: one recorded wrk run of ROUND.
ROUND=0
measure() {
	local name=$1 url=$2 host=$3 out rps p50 p99 err bad
	shift 3
	out="$results/$SCENARIO-r$ROUND-$name.txt"
	wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "Host: $host" "$@" "$url" >"$out" 2>&1 || true
	read -r rps p50 p99 err bad < <(parse_wrk "$out")
	printf '%s %s %s %s %s\n' "$rps" "$p50" "$p99" "$err" "$bad" >>"$tmp/m-$SCENARIO-$name"
	printf '   round %d  %-18s %8s rps  p50 %7s ms  p99 %7s ms  errors %s  non-2xx %s\n' \
		"$ROUND" "$name" "$rps" "$p50" "$p99" "$err" "$bad" >&2
}

# run_scenario SCENARIO WRK_ARGS... -- TARGET...: warm-up, then ROUNDS
# interleaved rounds over the targets that were started.
run_scenario() {
	SCENARIO=$1
	shift
	local args=() list=() t
	while (($#)) && [[ $1 != -- ]]; do
		args+=("$1")
		shift
	done
	shift
	for t in "$@"; do
		selected "$t" && [[ -n ${URL[$t]:-} ]] && list+=("$t")
	done
	((${#list[@]})) || return 0
	if ((WARMUP > 0)); then
		log "$SCENARIO: warm-up, ${WARMUP}s per target"
		for t in "${list[@]}"; do
			wrk -t1 -c"$CONNS" -d"${WARMUP}s" -H "Host: $REQ_HOST" "${args[@]}" "${URL[$t]}" >"$results/$SCENARIO-warmup-$t.txt" 2>&1 || true
		done
	fi
	for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
		log "$SCENARIO: round $ROUND of $ROUNDS"
		for t in "${list[@]}"; do
			measure "$t" "${URL[$t]}" "$REQ_HOST" "${args[@]}"
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
# ratio A B: A/B with two decimals, "-" when B is missing or zero.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b == "nan" || b + 0 == 0 || a == "nan") print "-"; else printf "%.2f", a / b }'; }

# rss_mib TARGET: resident memory of the target's process and its children
# (nginx workers), in MiB, or "-".
rss_mib() {
	local name=$1 pid kb
	[[ $name == direct || $name == tcp-direct ]] && name=upstream
	pid=${PID[$name]:-}
	if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
		echo -
		return
	fi
	kb=$({ ps -o rss= -p "$pid"; ps -o rss= --ppid "$pid"; } 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
	awk -v kb="$kb" 'BEGIN { printf "%.0f", kb / 1024 }'
}

declare -A RPS P50 P99 ERRS RSS
summarize() {
	local t f
	for t in "$@"; do
		f="$tmp/m-$SCENARIO-$t"
		[[ -f $f ]] || continue
		RSS[$t]=$(rss_mib "$t")
		RPS[$t]=$(median 1 "$f")
		P50[$t]=$(median 2 "$f")
		P99[$t]=$(median 3 "$f")
		ERRS[$t]=$(($(total 4 "$f") + $(total 5 "$f")))
	done
}

# table REF1 REF2 TARGET...: the table of SCENARIO, with ratios to REF1 and REF2.
table() {
	local r1=$1 r2=$2 t
	shift 2
	printf '%-18s %9s %8s %8s %8s %8s %10s %7s %8s\n' target rps "p50 ms" "p99 ms" "x $r1" "x $r2" "p99 x $r2" errors "rss MiB"
	for t in "$@"; do
		[[ -n ${RPS[$t]:-} ]] || continue
		printf '%-18s %9.0f %8.2f %8.2f %8s %8s %10s %7s %8s\n' "$t" "${RPS[$t]}" "${P50[$t]}" "${P99[$t]}" \
			"$(ratio "${RPS[$t]}" "${RPS[$r1]:-}")" "$(ratio "${RPS[$t]}" "${RPS[$r2]:-}")" \
			"$(ratio "${P99[$t]}" "${P99[$r2]:-}")" "${ERRS[$t]}" "${RSS[$t]}"
	done
}

legend() {
	printf '(rps, p50, p99: medians over rounds; errors: wrk socket errors + non-2xx answers, all rounds; rss: after the runs, children included)\n'
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
	[[ -n ${RPS[$gh]:-} ]] || return 0
	printf 'targets (%s): %s; %s; %s\n' "$gh" \
		"$(check "rps >= 2.0x caddy:" "$(ratio "${RPS[$gh]}" "${RPS[caddy]:-}")" ">=" 2.0)" \
		"$(check "rps >= 0.6x nginx:" "$(ratio "${RPS[$gh]}" "${RPS[nginx]:-}")" ">=" 0.6)" \
		"$(check "p99 <= 1.5x nginx:" "$(ratio "${P99[$gh]}" "${P99[nginx]:-}")" "<=" 1.5)"
}

# gatehouse_logs: what the gatehouse processes logged at warn or above.
gatehouse_logs() {
	local t f n
	for t in gatehouse gatehouse-nethttp gatehouse-tcp; do
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
	log "targets up: ${!URL[*]}"
	{
		printf 'gatehouse peers benchmark, %s, %s, %s CPUs\n' "$(date '+%Y-%m-%d %H:%M %Z')" "$(uname -sr)" "$(nproc)"
		printf 'wrk -t1 -c%s -d%ss --latency, %s interleaved round(s), medians; loopback; upstream: nginx, 1 worker, return 200 "hello"\n' \
			"$CONNS" "$DURATION" "$ROUNDS"
		sed 's/^/  /' "$results/versions.txt"
	} >"$results/summary.txt"

	if any_selected "${HTTP_TARGETS[@]}"; then
		run_scenario http -- "${HTTP_TARGETS[@]}"
		summarize "${HTTP_TARGETS[@]}"
		{
			printf '\nHTTP/1.1 keep-alive; gatehouse: %d hosts x %d routes, request to %s%s (route %d of %d)\n' \
				"$GH_HOSTS" "$GH_ROUTES" "$REQ_HOST" "$REQ_PATH" "$GH_ROUTES" "$GH_ROUTES"
			table caddy nginx "${HTTP_TARGETS[@]}"
			legend
			http_targets_line gatehouse
			http_targets_line gatehouse-nethttp
		} >>"$results/summary.txt"
	fi
	if any_selected "${TCP_TARGETS[@]}"; then
		run_scenario tcp -H "Connection: close" -- "${TCP_TARGETS[@]}"
		summarize "${TCP_TARGETS[@]}"
		{
			printf '\nTCP forwarding, new connection per request (Connection: close): rps = new connections/s\n'
			table socat tcpcopy "${TCP_TARGETS[@]}"
			legend
			if [[ -n ${RPS[gatehouse-tcp]:-} ]]; then
				printf 'targets (gatehouse-tcp): %s\n' "$(check "new conns >= 2.0x socat:" "$(ratio "${RPS[gatehouse-tcp]}" "${RPS[socat]:-}")" ">=" 2.0)"
			fi
		} >>"$results/summary.txt"
	fi
	{
		for t in "${skipped[@]}"; do printf 'skipped %s\n' "$t"; done
		gatehouse_logs
		printf 'raw wrk outputs: bench/results/%s/\n' "$stamp"
	} >>"$results/summary.txt"
	echo
	cat "$results/summary.txt"
}

main "$@"
