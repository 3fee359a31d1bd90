#!/usr/bin/env bash
# The cluster-mode figures of docs/benchmarks.md, measured from outside in one run beside the
# embedded store: a throwaway PostgreSQL 15 (scripts/postgres.sh, loopback, synchronous_commit
# on) and fresh servers of one binary, driven by wrk and the project's load tools.
#
#   bash bench/cluster.sh                      # build/release binaries, 3 runs of 10 s
#   bash bench/cluster.sh --runs 1 --duration 3
#
# Each run measures, every server on a fresh log:
#   embedded     one node on SQLite: durable creates/s and p99 (wrk, --connections);
#   pg-1         one node on PostgreSQL: the same;
#   pg-2         two nodes on one PostgreSQL log, wrk on both at once (--connections each):
#                the sum of creates/s and the larger p99;
#   stream       two nodes: events appended through node A at --stream-rate a second reach
#                --subscribers WebSocket subscribers of node B (quorum_stream_load --write-port):
#                append-to-receipt p50/p99 (the receipt's clock minus the event's `at`);
#   replay       a third node started on the log the pg-2 run filled, without snapshots: its
#                start-up replay from PostgreSQL (events/s, from its `replayed` log line);
#   webhooks     two nodes on a fresh log with --allow-private-webhooks, driven through node A
#                by quorum_webhook_load (10 endpoints, signed deliveries verified by its
#                receiver): the saturated phase's deliveries/s, and the paced phase's p99.
# Then prints every run and the medians. A benchmark measures: this script fails only when a run
# cannot be made, never because of a figure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bin=$repo/build/release/quorum
stream_load=$repo/build/release/bench/quorum_stream_load
webhook_load=$repo/build/release/bench/quorum_webhook_load
runs=3
duration=10
connections=64
stream_rate=1000
subscribers=10
port=18580
scratch_root=$repo/build/bench-data

usage() {
    cat <<EOF
Usage: bench/cluster.sh [options]

Options:
  --quorum PATH        the server binary (default: $bin)
  --stream-load PATH   quorum_stream_load (default: $stream_load)
  --runs N             runs of every measurement (default: $runs)
  --duration S         seconds per measurement (default: $duration)
  --connections N      wrk keep-alive connections per node (default: $connections)
  --stream-rate R      events a second for the cross-node stream (default: $stream_rate)
  --subscribers N      stream subscribers on the reading node (default: $subscribers)
  --port P             first port of the servers (default: $port; uses P..P+2)
  -h, --help           this help
EOF
}

die() { echo "cluster.sh: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --quorum) bin=$(realpath "$2"); shift 2 ;;
        --stream-load) stream_load=$(realpath "$2"); shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --stream-rate) stream_rate=$2; shift 2 ;;
        --subscribers) subscribers=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
[[ -x $bin ]] || die "missing $bin (cmake --build --preset release)"
[[ -x $stream_load ]] || die "missing $stream_load (cmake --build --preset release)"
[[ -x $webhook_load ]] || die "missing $webhook_load (cmake --build --preset release)"
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
command -v psql >/dev/null || die "psql is needed (bash scripts/install-deps.sh --test)"

mkdir -p "$scratch_root"
scratch=$(mktemp -d "$scratch_root/cluster.XXXXXX")
chmod 755 "$scratch"  # scripts/postgres.sh runs the server as an unprivileged user when root
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    bash "$repo/scripts/postgres.sh" stop "$scratch/pg" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT

bash "$repo/scripts/postgres.sh" start "$scratch/pg" >/dev/null
admin=$(cat "$scratch/pg/uri")
write_create_lua "$scratch/create.lua"

# A fresh database; prints its URI.
new_database() {
    local name=bench_$RANDOM$RANDOM
    psql -q "$admin" -c "CREATE DATABASE $name" >/dev/null
    echo "${admin%/*}/$name"
}

# Starts a node on port $1 (store URI $2, or "" for the embedded store; more options after);
# waits until it is ready.
start_node() {
    local node_port=$1 store=()
    [[ -n $2 ]] && store=(--store "$2")
    shift 2
    "$bin" serve --listen "127.0.0.1:$node_port" --data "$scratch/data.$node_port.$RANDOM" \
        "${store[@]}" "$@" \
        --no-access-log --log-level info --snapshot-every 0 >>"$scratch/node.$node_port.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 400); do
        curl -sf "http://127.0.0.1:$node_port/readyz" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    die "the node on port $node_port did not become ready (see $scratch/node.$node_port.log)"
}
stop_nodes() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    pids=()
}

creates() {  # port: "<req/s> <p99 ms>" from wrk
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$scratch/create.lua" \
        "http://127.0.0.1:$1/v1/sessions" | wrk_figures
}

results=$scratch/results.txt
: >"$results"
echo "machine busy before the runs: $(cpu_busy_pct)% of its CPU time" >&2
for ((r = 1; r <= runs; ++r)); do
    start_node "$port" ""
    read -r rps p99 < <(creates "$port")
    stop_nodes
    echo "embedded creates $rps $p99" | tee -a "$results"

    start_node "$port" "$(new_database)"
    read -r rps p99 < <(creates "$port")
    stop_nodes
    echo "pg-1 creates $rps $p99" | tee -a "$results"

    db=$(new_database)
    start_node "$port" "$db"
    start_node $((port + 1)) "$db"
    creates "$port" >"$scratch/a.txt" &
    wa=$!
    creates $((port + 1)) >"$scratch/b.txt"
    wait "$wa"
    read -r ra pa <"$scratch/a.txt"
    read -r rb pb <"$scratch/b.txt"
    echo "pg-2 creates $(awk -v a="$ra" -v b="$rb" 'BEGIN {print a + b}')" \
        "$(awk -v a="$pa" -v b="$pb" 'BEGIN {print (a > b ? a : b)}')" | tee -a "$results"

    out=$("$stream_load" --port $((port + 1)) --write-port "$port" --subscribers "$subscribers" \
        --rate "$stream_rate" --duration "$duration" | tail -n1)
    p50=$(sed -n 's/.*"p50_us":\([0-9]*\).*/\1/p' <<<"$out")
    sp99=$(sed -n 's/.*"p99_us":\([0-9]*\).*/\1/p' <<<"$out")
    loss=$(sed -n 's/.*"loss":\([0-9]*\).*/\1/p' <<<"$out")
    echo "stream cross-node $(awk -v v="$p50" 'BEGIN {printf "%.2f", v / 1000}')" \
        "$(awk -v v="$sp99" 'BEGIN {printf "%.2f", v / 1000}') loss=$loss" | tee -a "$results"
    stop_nodes

    start_node $((port + 2)) "$db"
    line=$(grep '"msg":"replayed"' "$scratch/node.$((port + 2)).log" | tail -n1)
    stop_nodes
    events=$(sed -n 's/.*"events":\([0-9]*\).*/\1/p' <<<"$line")
    eps=$(sed -n 's/.*"events_per_second":\([0-9]*\).*/\1/p' <<<"$line")
    echo "replay pg $eps events=$events" | tee -a "$results"
    psql -q "$admin" -c "DROP DATABASE ${db##*/} WITH (FORCE)" >/dev/null

    db=$(new_database)
    start_node "$port" "$db" --allow-private-webhooks
    start_node $((port + 1)) "$db" --allow-private-webhooks
    out=$("$webhook_load" --port "$port" --duration "$duration" --warmup 2 | tail -n1)
    stop_nodes
    wps=$(sed -n 's/.*"saturated_deliveries_per_s":\([0-9]*\).*/\1/p' <<<"$out")
    wp99=$(sed -n 's/.*"p99_us":\([0-9]*\).*/\1/p' <<<"$out")
    paced=$(sed -n 's/.*"paced_deliveries_per_s":\([0-9]*\).*/\1/p' <<<"$out")
    echo "webhooks pg-2 $wps $(awk -v v="${wp99:-0}" 'BEGIN {printf "%.2f", v / 1000}') ${paced:-0}" \
        | tee -a "$results"
    psql -q "$admin" -c "DROP DATABASE ${db##*/} WITH (FORCE)" >/dev/null
done

echo
echo "medians of $runs runs ($bin; PostgreSQL 15, synchronous_commit on, on this machine)"
col() { awk -v a="$1" -v c="$2" '$1==a {print $c}' "$results" | median; }
printf '%-30s %12s %10s\n' measurement "per second" "p99 ms"
printf '%-30s %12.0f %10.2f\n' "creates, embedded (1 node)" "$(col embedded 3)" "$(col embedded 4)"
printf '%-30s %12.0f %10.2f\n' "creates, PostgreSQL, 1 node" "$(col pg-1 3)" "$(col pg-1 4)"
printf '%-30s %12.0f %10.2f\n' "creates, PostgreSQL, 2 nodes" "$(col pg-2 3)" "$(col pg-2 4)"
printf '%-30s %12s %10.2f  (p50 %.2f ms, %s events/s)\n' "stream A -> subscriber on B" "" \
    "$(col stream 4)" "$(col stream 3)" "$stream_rate"
printf '%-30s %12.0f\n' "replay from PostgreSQL" "$(col replay 3)"
printf '%-30s %12.0f %10.2f  (paced phase p99; paced phase %s/s delivered)\n' \
    "signed webhook deliveries, 2 nodes" "$(col webhooks 3)" "$(col webhooks 4)" \
    "$(col webhooks 5)"
