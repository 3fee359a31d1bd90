#!/usr/bin/env bash
# Measures `tools/call create_session` over POST /mcp from outside the server, with wrk, and the
# REST create (POST /v1/sessions) with the same settings in the same run for comparison. Every
# measurement gets a fresh server on a fresh data directory; the server's CPU time is read from
# /proc/<pid>/stat around it; afterwards GET /v1/stats must count the sessions the answers said
# were created. Prints every run and the medians.
#
#   bash bench/mcp_load.sh                      # build/release/quorum, 3 runs of 10 s each
#
# A benchmark measures: this script fails only when a run cannot be made (a server that does not
# start, an MCP session that cannot be opened, a tool that is missing) or when the server holds
# a different number of sessions than its answers said it created; never because of a figure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
binary=$repo/build/release/quorum
runs=3
duration=10
connections=64
threads=2
phases=mcp,rest
port=18490
scratch_root=$repo/build/bench-data
server_args=()

usage() {
    cat <<EOF
Usage: bench/mcp_load.sh [options]

For every run and phase: starts a fresh server (127.0.0.1, --no-access-log, a fresh data
directory on the build disk), opens an MCP session with curl (initialize, then
notifications/initialized) and drives it with wrk (--threads threads, --connections keep-alive
connections, --duration seconds, --latency) and bench/mcp_create.lua.

Phases:
  mcp    POST /mcp, tools/call create_session, JSON responses
  rest   POST /v1/sessions with the same query, mode and metadata

Reports created sessions/s (2xx answers that created one), p50 and p99 latency, the server's
CPU microseconds per answer, non-2xx answers and tool errors; then the medians.

Options:
  --binary PATH      the quorum binary (default: $binary)
  --runs N           runs of every phase (default: $runs)
  --duration S       seconds per measurement (default: $duration)
  --connections N    keep-alive connections (default: $connections)
  --threads N        wrk threads (default: $threads)
  --phases LIST      from mcp,rest (default: $phases)
  --port P           port for the servers (default: $port)
  --server-arg ARG   one more option for 'quorum serve' (repeatable)
  -h, --help         this help
EOF
}

die() { echo "mcp_load.sh: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --binary) binary=$(realpath "$2"); shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --phases) phases=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --server-arg) server_args+=("$2"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ -x $binary ]] || die "missing $binary (cmake --preset release && cmake --build build/release --target quorum)"
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
command -v curl >/dev/null || die "curl is needed"
IFS=, read -r -a phase_list <<<"$phases"
for p in "${phase_list[@]}"; do
    [[ $p == mcp || $p == rest ]] || die "unknown phase: $p"
done
lua=$repo/bench/mcp_create.lua
base=http://127.0.0.1:$port

make_scratch mcp_load

start_server() {
    local data=$scratch/data.$RANDOM$RANDOM
    "$binary" serve --listen "127.0.0.1:$port" --data "$data" --no-access-log --log-level warn \
        --snapshot-every 0 "${server_args[@]}" 2>>"$scratch/server.log" &
    server_pid=$!
    for _ in $(seq 200); do
        curl -sf "$base/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$scratch/server.log" >&2
    die "the server did not become ready"
}
stop_server() {
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# initialize, then notifications/initialized; prints the Mcp-Session-Id.
open_mcp_session() {
    local headers=$scratch/init.headers body status id
    body=$(curl -sS -D "$headers" -X POST "$base/mcp" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp_load","version":"1"}}}') \
        || die "initialize: curl failed"
    id=$(awk 'tolower($1) == "mcp-session-id:" { print $2 }' "$headers" | tr -d '\r')
    [[ -n $id ]] || die "initialize gave no Mcp-Session-Id: $(head -n1 "$headers") $body"
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/mcp" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -H "Mcp-Session-Id: $id" -H 'MCP-Protocol-Version: 2025-11-25' \
        -d '{"jsonrpc":"2.0","method":"notifications/initialized"}')
    [[ $status == 202 ]] || die "notifications/initialized answered $status, not 202"
    printf '%s' "$id"
}

total_sessions() {
    curl -sf "$base/v1/stats" | sed -n 's/.*"total_sessions":\([0-9]*\).*/\1/p'
}

# wrk's latency line for a percentile ("50%", "99%") in ms.
wrk_ms() {
    awk -v p="$1" '$1 == p { v = $2
        if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v) }
        else if (v ~ /m$/) { sub(/m$/, "", v); v *= 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
        printf "%.2f", v }'
}
field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p"; }

echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1))," \
    "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
echo "binary: $binary"
echo "wrk: $threads threads, $connections connections, ${duration} s, --latency; $runs runs"
echo

results=$scratch/results.txt
: >"$results"
hz=$(getconf CLK_TCK)
inconsistent=0
printf '%-4s %-5s %10s %9s %9s %11s %8s %8s %10s  %s\n' run phase "created/s" "p50 ms" "p99 ms" \
    "cpu us/call" non2xx tool_err "busy %" "sessions (stats / 2xx / in flight at the end)"
for ((r = 1; r <= runs; ++r)); do
    order=("${phase_list[@]}")
    if ((r % 2 == 0)); then  # alternate the order so that neither phase always runs first
        order=()
        for ((i = ${#phase_list[@]} - 1; i >= 0; --i)); do order+=("${phase_list[i]}"); done
    fi
    for phase in "${order[@]}"; do
        busy=$(cpu_busy_pct)
        start_server
        args=(rest)
        target=$base/v1/sessions
        if [[ $phase == mcp ]]; then
            sid=$(open_mcp_session)
            args=(mcp "$sid")
            target=$base/mcp
        fi
        before=$(cpu_ticks)
        out=$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$lua" "$target" \
            -- "${args[@]}")
        after=$(cpu_ticks)
        # Requests still in flight when wrk stopped may be committed a moment later.
        sleep 0.5
        total=$(total_sessions)
        stop_server

        summary=$(grep '^mcp_create:' <<<"$out") || die "no summary from wrk: $out"
        sent=$(field sent <<<"$summary")
        ok=$(field ok <<<"$summary")
        non2xx=$(field non2xx <<<"$summary")
        tool_errors=$(field tool_errors <<<"$summary")
        statuses=$(field statuses <<<"$summary")
        answers=$(awk '/requests in/ { print $1 }' <<<"$out")
        rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
        created_per_s=$(awk -v r="$rps" -v o="$ok" -v a="$answers" \
            'BEGIN { printf "%.0f", (a > 0 ? r * o / a : 0) }')
        p50=$(wrk_ms 50% <<<"$out")
        p99=$(wrk_ms 99% <<<"$out")
        cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$answers" \
            'BEGIN { printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }')
        in_flight=$((sent - ok - non2xx - tool_errors))
        # Every 2xx answer stands for a durable session; a request in flight at the end may or
        # may not have been committed.
        check=ok
        if [[ -z $total ]] || ((total < ok || total > ok + in_flight)); then
            check=INCONSISTENT
            inconsistent=1
        fi
        [[ $statuses != - ]] && non2xx="$non2xx($statuses)"
        printf '%-4s %-5s %10s %9s %9s %11s %8s %8s %10s  %s / %s / %s %s\n' "$r" "$phase" \
            "$created_per_s" "$p50" "$p99" "$cpu_us" "$non2xx" "$tool_errors" "$busy" \
            "${total:-?}" "$ok" "$in_flight" "$check"
        printf '%s %s %s %s %s %s\n' "$phase" "$created_per_s" "$p50" "$p99" "$cpu_us" "$busy" \
            >>"$results"
    done
done

echo
echo "medians of $runs runs"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v p="$1" -v c="$2" '$1 == p { print $c }' "$results" | median; }
values() { awk -v p="$1" -v c="$2" '$1 == p { printf "%s%s", sep, $c; sep = "; " }' "$results"; }
printf '%-5s %10s %9s %9s %11s  %s\n' phase "created/s" "p50 ms" "p99 ms" "cpu us/call" \
    "created/s of every run"
for phase in "${phase_list[@]}"; do
    printf '%-5s %10.0f %9.2f %9.2f %11.1f  %s\n' "$phase" "$(col "$phase" 2)" "$(col "$phase" 3)" \
        "$(col "$phase" 4)" "$(col "$phase" 5)" "$(values "$phase" 2)"
done
if [[ " ${phase_list[*]} " == *" mcp "* && " ${phase_list[*]} " == *" rest "* ]]; then
    awk -v m="$(col mcp 2)" -v r="$(col rest 2)" \
        'BEGIN { if (r > 0) printf "mcp / rest created/s: %.3f\n", m / r }'
fi
if ((inconsistent)); then
    echo "mcp_load.sh: the sessions the server holds do not match the answers (see INCONSISTENT)" >&2
    exit 1
fi
