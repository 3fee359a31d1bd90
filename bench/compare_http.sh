#!/usr/bin/env bash
# Compares the HTTP throughput of two quorum binaries in one run, measured from outside: wrk (a
# standard load generator) and the project's quorum_load drive the same workloads against a fresh
# server of each binary in turn (A B, then B A, ...), and the server's CPU time and the bytes it
# wrote (write_bytes of /proc/<pid>/io: the log's WAL and its checkpoints) are read around each
# measurement. Prints every run and the medians.
#
#   bash bench/compare_http.sh --a build/release/quorum --b /path/to/previous/quorum
#
# A benchmark measures: this script fails only when a run cannot be made (a server that does not
# start, a tool that is missing), never because a figure is lower than another.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
a_bin=
b_bin=
load=$repo/build/release/bench/quorum_load
runs=3
duration=10
connections=64
workloads=create,get
port=18480
scratch_root=$repo/build/bench-data

usage() {
    cat <<EOF
Usage: bench/compare_http.sh --a QUORUM --b QUORUM [options]

Starts a fresh server of each binary in turn (listening on 127.0.0.1, data on the build disk)
for every workload and run, and measures it with wrk (2 threads, --connections, --duration)
and with quorum_load. Reports requests/s, p99 latency, server CPU microseconds per request and
bytes written per successful (2xx) request.

Options:
  --a PATH           the binary under test (label A)
  --b PATH           the binary to compare against (label B)
  --load PATH        quorum_load (default: $load)
  --runs N           runs of every (binary, workload, tool) (default: $runs)
  --duration S       seconds per measurement (default: $duration)
  --connections N    keep-alive connections (default: $connections)
  --workloads LIST   from create,get (default: $workloads)
  --port P           port for the servers (default: $port)
  -h, --help         this help
EOF
}

die() { echo "compare_http.sh: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --a) a_bin=$(realpath "$2"); shift 2 ;;
        --b) b_bin=$(realpath "$2"); shift 2 ;;
        --load) load=$(realpath "$2"); shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --workloads) workloads=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ -x $a_bin && -x $b_bin ]] || die "--a and --b must name quorum binaries"
[[ -x $load ]] || die "missing $load (cmake --build --preset release --target quorum_load)"
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
command -v curl >/dev/null || die "curl is needed"
IFS=, read -r -a workload_list <<<"$workloads"

make_scratch compare

write_create_lua "$scratch/create.lua"

start_server() {  # $1 binary
    local data=$scratch/data.$RANDOM
    "$1" serve --listen "127.0.0.1:$port" --data "$data" --no-access-log --log-level warn \
        --snapshot-every 0 2>>"$scratch/server.log" &
    server_pid=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    die "server $1 did not become ready (see $scratch/server.log)"
}
stop_server() {
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}


results=$scratch/results.txt
: >"$results"
# Other work on the machine moves every figure: the load average is printed with the medians.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
hz=$(getconf CLK_TCK)
for ((r = 1; r <= runs; ++r)); do
    order=(A B)
    ((r % 2 == 0)) && order=(B A)
    for label in "${order[@]}"; do
        bin=$a_bin
        [[ $label == B ]] && bin=$b_bin
        for w in "${workload_list[@]}"; do
            for tool in wrk quorum_load; do
                start_server "$bin"
                target=/v1/sessions
                if [[ $w == get ]]; then
                    id=$(curl -sf -X POST "http://127.0.0.1:$port/v1/sessions" \
                        -d '{"query":"benchmark"}' | sed 's/.*"session_id":"\([^"]*\)".*/\1/')
                    target=/v1/sessions/$id
                fi
                before=$(cpu_ticks)
                written_before=$(io_write_bytes)
                if [[ $tool == wrk ]]; then
                    script=()
                    [[ $w == create ]] && script=(-s "$scratch/create.lua")
                    out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "${script[@]}" \
                        "http://127.0.0.1:$port$target")
                    read -r rps p99 < <(wrk_figures <<<"$out")
                    count=$(awk '/requests in/ {print $1}' <<<"$out")
                    non_2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
                    ok=$((count - ${non_2xx:-0}))
                else
                    out=$("$load" --port "$port" --workload "$w" --connections "$connections" \
                        --duration "$duration" --warmup 0 --sessions 1)
                    json=$(tail -n1 <<<"$out")
                    rps=$(sed -n 's/.*"rps":\([0-9]*\).*/\1/p' <<<"$json")
                    p99=$(sed -n 's/.*"p99_us":\([0-9.]*\).*/\1/p' <<<"$json")
                    p99=$(awk -v v="$p99" 'BEGIN {printf "%.2f", v / 1000}')
                    # Every response the server made, warm-up included, as the CPU time is.
                    count=$(sed -n 's/.*"responses_all":\([0-9]*\).*/\1/p' <<<"$json")
                    non_2xx=$(sed -n 's/.*"non_2xx":\([0-9]*\).*/\1/p' <<<"$json")
                    ok=$((count - ${non_2xx:-0}))
                fi
                after=$(cpu_ticks)
                written=$(($(io_write_bytes) - written_before))
                stop_server
                cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$count" \
                    'BEGIN {printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0)}')
                bytes_per=$(awk -v b="$written" -v n="$ok" \
                    'BEGIN {printf "%.0f", (n > 0 ? b / n : 0)}')
                printf '%s %s %s %s %s %s %s\n' "$label" "$w" "$tool" "$rps" "$p99" "$cpu_us" \
                    "$bytes_per" | tee -a "$results"
            done
        done
    done
done

echo
echo "medians of $runs runs (A: $a_bin, B: $b_bin)"
echo "load average (1, 5, 15 min): $load_before before the runs," \
    "$(cut -d' ' -f1-3 /proc/loadavg) after"
printf '%-8s %-12s %12s %12s %10s %10s %12s %12s %11s %11s %8s\n' workload tool "A req/s" \
    "B req/s" "A p99 ms" "B p99 ms" "A cpu us/req" "B cpu us/req" "A bytes/ok" "B bytes/ok" "A/B"
for w in "${workload_list[@]}"; do
    for tool in wrk quorum_load; do
        col() { awk -v l="$1" -v w="$w" -v t="$tool" -v c="$2" '$1==l && $2==w && $3==t {print $c}' \
            "$results" | median; }
        ar=$(col A 4) br=$(col B 4)
        printf '%-8s %-12s %12.0f %12.0f %10.2f %10.2f %12.1f %12.1f %11.0f %11.0f %8.3f\n' \
            "$w" "$tool" "$ar" "$br" "$(col A 5)" "$(col B 5)" "$(col A 6)" "$(col B 6)" \
            "$(col A 7)" "$(col B 7)" \
            "$(awk -v a="$ar" -v b="$br" 'BEGIN {print (b > 0 ? a / b : 0)}')"
    done
done
