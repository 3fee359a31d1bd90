#!/usr/bin/env bash
# Measures the live stream's fan-out of two quorum binaries and of a reference server (a plain
# Node WebSocket fan-out on the ws library: bench/reference/stream_reference.mjs) in one run, from
# outside: quorum_stream_load opens the subscribers, drives events through POST /v1/sessions at a
# fixed rate and reads the server's CPU time from /proc/<pid>/stat. The servers take turns
# (A, B, reference, then again), each fresh, and the medians are printed.
#
#   bash bench/stream_compare.sh --a build/release/quorum --b /path/to/previous/quorum --reference
#
# A benchmark measures: this script fails only when a run cannot be made, never because a figure
# is worse than another.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
a_bin=
b_bin=
a_args=
b_args=
reference=0
load=$repo/build/release/bench/quorum_stream_load
runs=3
duration=20
subscribers=1000
rate=100
port=18600
scratch_root=$repo/build/bench-data

usage() {
    cat <<EOF
Usage: bench/stream_compare.sh --a QUORUM [--b QUORUM] [--reference] [options]

Every run starts each server fresh on 127.0.0.1 and measures it with quorum_stream_load
(--subscribers WebSocket subscribers, --rate events a second for --duration seconds): server CPU
microseconds per delivery (from /proc), commit-to-receipt p50/p99, loss, frames per write and
events sent late by the driver (a run with many is not representative: see docs/benchmarks.md).

Options:
  --a PATH            the quorum binary under test (label A)
  --a-args "ARGS"     more 'serve' options for A (e.g. "--stream-flush-ms 0")
  --b PATH            a quorum binary to compare against (label B)
  --b-args "ARGS"     more 'serve' options for B
  --reference         also measure the Node reference server (installs bench/reference's
                      pinned packages with npm ci when they are missing)
  --load PATH         quorum_stream_load (default: $load)
  --runs N            runs of every server (default: $runs)
  --duration S        seconds of driving per run (default: $duration)
  --subscribers N     WebSocket subscribers (default: $subscribers)
  --rate R            events a second (default: $rate)
  --port P            port for the servers (default: $port)
  -h, --help          this help
EOF
}

die() { echo "stream_compare.sh: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --a) a_bin=$2; shift 2 ;;
        --a-args) a_args=$2; shift 2 ;;
        --b) b_bin=$2; shift 2 ;;
        --b-args) b_args=$2; shift 2 ;;
        --reference) reference=1; shift ;;
        --load) load=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --subscribers) subscribers=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ -n $a_bin ]] || { usage >&2; die "--a is required"; }
[[ -x $a_bin ]] || die "not executable: $a_bin"
[[ -z $b_bin || -x $b_bin ]] || die "not executable: $b_bin"
[[ -x $load ]] || die "not executable: $load (build the release preset's quorum_stream_load)"
if [[ $reference == 1 ]]; then
    command -v node >/dev/null || die "node is needed for --reference"
    if [[ ! -d $repo/bench/reference/node_modules/ws ]]; then
        (cd "$repo/bench/reference" && npm ci --no-audit --no-fund >/dev/null) ||
            die "npm ci failed in bench/reference"
    fi
fi
# Every subscriber is a descriptor in both processes.
ulimit -n "$(ulimit -Hn)"
make_scratch stream-compare

wait_healthy() {
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
        kill -0 "$server_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# One run of one server: prints "label cpu_us p50_ms p99_ms loss frames_per_write late busy%".
run_one() {
    local label=$1 kind=$2 bin=$3 args=$4 busy out json
    busy=$(cpu_busy_pct)
    if [[ $kind == quorum ]]; then
        rm -rf "$scratch/data"
        # shellcheck disable=SC2086
        "$bin" serve --listen "127.0.0.1:$port" --data "$scratch/data" --no-access-log $args \
            >"$scratch/$label.log" 2>&1 &
    else
        node "$repo/bench/reference/stream_reference.mjs" --port "$port" >"$scratch/$label.log" 2>&1 &
    fi
    server_pid=$!
    wait_healthy || die "$label did not start (its log: $(tail -3 "$scratch/$label.log"))"
    out=$("$load" --port "$port" --server-pid "$server_pid" --subscribers "$subscribers" \
        --rate "$rate" --duration "$duration" 2>&1) || true
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    json=$(grep '^{"bench":"stream"' <<<"$out" || true)
    [[ -n $json ]] || die "$label: quorum_stream_load printed no result: $(tail -3 <<<"$out")"
    python3 - "$label" "$busy" "$json" <<'PY'
import json, sys
label, busy, j = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print(label, f"{j['cpu_us_per_delivery']:.3f}", f"{j['p50_us']/1000:.1f}", f"{j['p99_us']/1000:.1f}",
      j['loss'] + j['disorder'], f"{j.get('frames_per_write', 0):.2f}", j.get('late', 0), busy)
PY
}

results=$scratch/results
: >"$results"
echo "# label cpu_us_per_delivery p50_ms p99_ms loss+disorder frames_per_write late machine_busy_pct"
for run in $(seq "$runs"); do
    line=$(run_one A quorum "$a_bin" "$a_args")
    echo "run $run: $line"
    echo "$line" >>"$results"
    if [[ -n $b_bin ]]; then
        line=$(run_one B quorum "$b_bin" "$b_args")
        echo "run $run: $line"
        echo "$line" >>"$results"
    fi
    if [[ $reference == 1 ]]; then
        line=$(run_one reference node "" "")
        echo "run $run: $line"
        echo "$line" >>"$results"
    fi
done
echo "# medians of $runs runs ($subscribers subscribers x $rate events/s, ${duration} s each)"
for label in A B reference; do
    grep -q "^$label " "$results" || continue
    printf '%-9s cpu %s us/delivery, p50 %s ms, p99 %s ms, loss %s, frames/write %s, late %s\n' \
        "$label" \
        "$(awk -v l="$label" '$1 == l { print $2 }' "$results" | median)" \
        "$(awk -v l="$label" '$1 == l { print $3 }' "$results" | median)" \
        "$(awk -v l="$label" '$1 == l { print $4 }' "$results" | median)" \
        "$(awk -v l="$label" '$1 == l { s += $5 } END { print s + 0 }' "$results")" \
        "$(awk -v l="$label" '$1 == l { print $6 }' "$results" | median)" \
        "$(awk -v l="$label" '$1 == l { print $7 }' "$results" | median)"
done
