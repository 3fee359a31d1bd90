#!/usr/bin/env bash
# The project's benchmarks in one command: builds Release, measures the HTTP API against a fresh
# server per run (quorum_load), the log replay and memory per session (quorum_replay_bench) and
# webhook deliveries (quorum_webhook_load, a server with --allow-private-webhooks) and the audit
# tools (quorum verify, quorum export, start-up with and without a snapshot), each
# measurement several times (3 by default), and prints the medians against the targets.
# Raw JSON lines go to <build dir>/bench-results/<UTC time>.jsonl. See docs/benchmarks.md.
#
# A benchmark measures: this script fails only when a run cannot be made (build, server start,
# a benchmark exiting with an error), never because a figure misses its target.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
build_dir=$repo/build/release
build=1
workloads=create,get,mixed
connections=64
duration=10
warmup=2
runs=3
client_threads=1
server_threads=
replay_events=1000000
memory_sessions=1000000
do_load=1
do_replay=1
do_webhooks=1
# Audit step: verify, export and time to ready on one generated log.
do_audit=1
audit_events=1000000
webhook_rate=500
webhook_endpoints=10
# Live stream step (quorum_stream_load).
do_stream=1
stream_subscribers=1000
stream_rate=100
stream_duration=30
stream_idle=10000

usage() {
    cat <<EOF
Usage: scripts/bench.sh [options]

Builds Release, then for each workload starts a fresh server, waits for /readyz, runs
quorum_load and stops the server; then runs the replay and memory benchmark. Every measurement
is repeated (--runs) and the median reported.

Options:
  --build-dir DIR        build directory (default: build/release); configured Release if new
  --no-build             use the binaries already in the build directory
  --workloads LIST       comma-separated, from create,get,mixed (default: $workloads)
  --connections N        keep-alive connections (default: $connections)
  --duration S           measured seconds per load run (default: $duration)
  --warmup S             warm-up seconds per load run (default: $warmup)
  --runs N               repetitions of every measurement (default: $runs)
  --client-threads N     quorum_load threads (default: $client_threads)
  --server-threads N     quorum serve --threads (default: the server's own default)
  --replay-events N      events in the replay log (default: $replay_events)
  --memory-sessions N    sessions in the memory log (default: $memory_sessions)
  --skip-load            no HTTP benchmarks
  --skip-replay          no replay and memory benchmark
  --skip-webhooks        no webhook delivery benchmark
  --skip-audit           no audit benchmark (verify, export, start-up with a snapshot)
  --audit-events N       events in the audit log, about 5 a session (default: $audit_events)
  --skip-stream          no live stream benchmark
  --stream-duration S    seconds of driving per stream run (default: $stream_duration)
  --webhook-rate N       events/s in the paced webhook phase, each delivered to every
                         endpoint (default: $webhook_rate, i.e. 5,000 deliveries/s to 10)
  --quick                a short smoke run: --duration 3 --warmup 1 --replay-events 200000
                         --memory-sessions 200000 --stream-duration 5, 2,000 idle stream
                         subscribers (figures are then not comparable to targets)
  -h, --help             this help
EOF
}

die() { echo "bench.sh: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
        --no-build) build=0; shift ;;
        --workloads) workloads=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --client-threads) client_threads=$2; shift 2 ;;
        --server-threads) server_threads=$2; shift 2 ;;
        --replay-events) replay_events=$2; shift 2 ;;
        --memory-sessions) memory_sessions=$2; shift 2 ;;
        --skip-load) do_load=0; shift ;;
        --skip-replay) do_replay=0; shift ;;
        --skip-webhooks) do_webhooks=0; shift ;;
        --skip-audit) do_audit=0; shift ;;
        --audit-events) audit_events=$2; shift 2 ;;
        --skip-stream) do_stream=0; shift ;;
        --stream-duration) stream_duration=$2; shift 2 ;;
        --webhook-rate) webhook_rate=$2; shift 2 ;;
        --quick) duration=3; warmup=1; replay_events=200000; memory_sessions=200000
                 stream_duration=5; stream_idle=2000; audit_events=200000; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
IFS=, read -r -a workload_list <<<"$workloads"
for w in "${workload_list[@]}"; do
    case $w in create|get|mixed) ;; *) die "unknown workload: $w" ;; esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
command -v curl >/dev/null || die "curl is needed to wait for /readyz"

# --- build -----------------------------------------------------------------------------------
if ((build)); then
    if [[ ! -f $build_dir/CMakeCache.txt ]]; then
        if [[ $build_dir == "$repo/build/release" && -f $repo/CMakePresets.json ]]; then
            (cd "$repo" && cmake --preset release >/dev/null)
        else
            generator=()
            command -v ninja >/dev/null && generator=(-G Ninja)
            cmake -S "$repo" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
                -DQUORUM_SANITIZE=OFF >/dev/null
        fi
    fi
    cmake --build "$build_dir" --parallel "$(nproc)" \
        --target quorum quorum_load quorum_replay_bench quorum_webhook_load quorum_stream_load
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
sanitize=$(sed -n 's/^QUORUM_SANITIZE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
[[ $build_type == Release ]] || echo "bench.sh: WARNING: $build_dir is a '$build_type' build, not Release" >&2
[[ $sanitize != ON ]] || echo "bench.sh: WARNING: $build_dir is built with sanitizers" >&2
quorum=$build_dir/quorum  # RUNTIME_OUTPUT_DIRECTORY; older build directories have src/app/quorum
[[ -x $quorum ]] || quorum=$build_dir/src/app/quorum
load=$build_dir/bench/quorum_load
replay=$build_dir/bench/quorum_replay_bench
webhook_load=$build_dir/bench/quorum_webhook_load
for exe in "$quorum" "$load" "$replay"; do [[ -x $exe ]] || die "missing $exe (build first)"; done
((!do_webhooks)) || [[ -x $webhook_load ]] || die "missing $webhook_load (build first)"
stream_load=$build_dir/bench/quorum_stream_load
((!do_stream)) || [[ -x $stream_load ]] || die "missing $stream_load (build first)"

# --- results and scratch space ---------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results_dir=$build_dir/bench-results
mkdir -p "$results_dir" "$build_dir/bench-data"
results=$results_dir/$stamp.jsonl
: >"$results"
ln -sfn "$stamp.jsonl" "$results_dir/latest.jsonl"
# Server data lives under the build directory, on a real disk: fsync must cost what it costs.
scratch=$(mktemp -d "$build_dir/bench-data/run.XXXXXX")
server_pid=
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- machine ---------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
[[ -n $cpu ]] || cpu=$(uname -m)
mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
fs_type=$(df -PT "$scratch" | awk 'NR == 2 { print $2 }')
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
echo "machine: $(nproc) CPUs ($cpu), $mem_gib GiB, kernel $(uname -sr), data on $fs_type"
echo "build:   $build_dir ($build_type), commit $commit"
printf '{"bench":"machine","load1":'"$(cut -d' ' -f1 /proc/loadavg)"',"nproc":%s,"cpu":"%s","mem_gib":%s,"kernel":"%s","fs":"%s","commit":"%s","build_type":"%s","time":"%s"}\n' \
    "$(nproc)" "${cpu//\"/}" "$mem_gib" "$(uname -sr)" "$fs_type" "$commit" "$build_type" \
    "$stamp" >>"$results"

# --- helpers ---------------------------------------------------------------------------------
# Other work on the machine skews every figure: before each measurement, note how much of the
# machine's CPU time was used over one second while nothing of this script ran (every server is
# stopped between runs). The load average alone cannot tell: it decays over minutes and still
# counts the previous run.
load1() { cut -d' ' -f1 /proc/loadavg; }
busy_pct=0
check_quiet() {
    busy_pct=$(cpu_busy_pct)
    if ((busy_pct > 10)); then
        echo "bench.sh: WARNING: the machine is busy ($busy_pct % of its CPU time in use by" \
            "other processes, load average $(load1)): figures will be low" >&2
        busy_runs=$((busy_runs + 1))
    fi
}
busy_runs=0
clk_tck=$(getconf CLK_TCK)
# User plus system CPU time of the server process so far, in clock ticks.

# The value of a numeric member of a flat JSON line.
json_num() { grep -o "\"$2\":[-0-9.eE+]*" <<<"$1" | head -1 | cut -d: -f2; }

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# A port nobody listens on (the server's bind is the final check; start_server retries).
free_port() {
    local port
    for _ in {1..100}; do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    die "no free port found"
}

# Arguments added to the next start_server (the webhooks step sets --allow-private-webhooks).
server_extra=()
# Starts `quorum serve` on a fresh data directory; sets server_pid, server_port and server_log.
start_server() {
    local attempt data
    for attempt in 1 2 3; do
        server_port=$(free_port)
        data=$(mktemp -d "$scratch/serve.XXXXXX")
        server_log=$data.log
        local args=(serve --listen "127.0.0.1:$server_port" --data "$data" --no-access-log)
        [[ -z $server_threads ]] || args+=(--threads "$server_threads")
        args+=("${server_extra[@]}")
        env -u QUORUM_TOKEN "$quorum" "${args[@]}" >"$server_log" 2>&1 &
        server_pid=$!
        for _ in {1..300}; do
            if curl -fsS -o /dev/null "http://127.0.0.1:$server_port/readyz" 2>/dev/null; then
                return 0
            fi
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        echo "bench.sh: server did not become ready (attempt $attempt); its log:" >&2
        tail -n 20 "$server_log" >&2 || true
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    done
    die "cannot start the server"
}

# Stops the server by its pid (SIGTERM, then SIGKILL after 15 s) and removes its data.
stop_server() {
    local status=0
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in {1..150}; do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "bench.sh: server $server_pid ignored SIGTERM for 15 s; killing it" >&2
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || status=$?
    ((status == 0)) || echo "bench.sh: server exited with status $status" >&2
    server_pid=
    rm -rf "${server_log%.log}" "$server_log"
}

# Summary rows: label|figure|median|values|target|verdict
rows=()
add_row() { rows+=("$1|$2|$3|$4|$5|$6"); }
verdict() {  # value op target -> met / NOT met
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        ok = (op == ">=") ? (v >= t) : (v <= t);
        if (ok) print "met"; else printf "NOT met (%+.0f%%)\n", (v - t) / t * 100 }'
}
fmt_int() { LC_ALL=C awk -v v="$1" 'BEGIN { s = sprintf("%.0f", v); n = length(s); o = "";
    for (i = 1; i <= n; i++) { o = o substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) o = o "," }
    print o }'; }
fmt1() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }

# --- HTTP load -------------------------------------------------------------------------------
if ((do_load)); then
    for w in "${workload_list[@]}"; do
        rps=() p50=() p99=() maxl=() ops=() errors=() server_cpu=() client_cpu=()
        for ((run = 1; run <= runs; run++)); do
            check_quiet
            before_load=$(load1)
            start_server
            echo "== $w, run $run/$runs (server pid $server_pid, port $server_port)"
            cpu0=$(cpu_ticks)
            out=$("$load" --port "$server_port" --workload "$w" --connections "$connections" \
                --duration "$duration" --warmup "$warmup" --threads "$client_threads") ||
                { stop_server; die "quorum_load failed"; }
            cpu1=$(cpu_ticks)
            stop_server
            grep -v '^{' <<<"$out" || true
            line=$(grep '^{' <<<"$out")
            # The server's CPU time over the whole quorum_load run (set-up and warm-up included)
            # per response read in that run: what a request costs it, whatever else runs.
            server_us=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$clk_tck" \
                -v n="$(json_num "$line" responses_all)" \
                'BEGIN { printf "%.1f", (n > 0 ? (b - a) / t / n * 1e6 : 0) }')
            printf '{"run":%d,"load1":%s,"busy_pct":%s,"server_cpu_us_per_response":%s,%s\n' \
                "$run" "$before_load" "$busy_pct" "$server_us" "${line#\{}" >>"$results"
            server_cpu+=("$server_us")
            client_cpu+=("$(fmt1 "$(json_num "$line" client_cpu_us_per_response)")")
            rps+=("$(json_num "$line" rps)")
            p50+=("$(json_num "$line" p50_us)")
            p99+=("$(json_num "$line" p99_us)")
            maxl+=("$(json_num "$line" max_us)")
            errors+=("$(json_num "$line" errors)")
            [[ $w != mixed ]] || ops+=("$(json_num "$line" ops_per_s)")
        done
        label="$w, $connections conn"
        err_total=$(printf '%s\n' "${errors[@]}" | awk '{ s += $1 } END { print s }')
        if [[ $w == mixed ]]; then
            m=$(median "${ops[@]}")
            add_row "$label" "operations/s" "$(fmt_int "$m")" "${ops[*]}" "" ""
            label=""
        fi
        m=$(median "${rps[@]}")
        case $w in
            create) add_row "$label" "req/s" "$(fmt_int "$m")" "${rps[*]}" ">= 20,000" \
                "$(verdict "$m" ">=" 20000)" ;;
            get) add_row "$label" "req/s" "$(fmt_int "$m")" "${rps[*]}" ">= 35,000" \
                "$(verdict "$m" ">=" 35000)" ;;
            *) add_row "$label" "req/s" "$(fmt_int "$m")" "${rps[*]}" "" "" ;;
        esac
        add_row "" "p50 ms" "$(fmt_ms "$(median "${p50[@]}")")" \
            "$(for v in "${p50[@]}"; do printf '%s ' "$(fmt_ms "$v")"; done)" "" ""
        m=$(median "${p99[@]}")
        if [[ $w == create ]]; then
            add_row "" "p99 ms" "$(fmt_ms "$m")" \
                "$(for v in "${p99[@]}"; do printf '%s ' "$(fmt_ms "$v")"; done)" "<= 20" \
                "$(verdict "$m" "<=" 20000)"
        else
            add_row "" "p99 ms" "$(fmt_ms "$m")" \
                "$(for v in "${p99[@]}"; do printf '%s ' "$(fmt_ms "$v")"; done)" "" ""
        fi
        add_row "" "max ms" "$(fmt_ms "$(median "${maxl[@]}")")" \
            "$(for v in "${maxl[@]}"; do printf '%s ' "$(fmt_ms "$v")"; done)" "" ""
        add_row "" "server CPU us/request" "$(median "${server_cpu[@]}")" "${server_cpu[*]}" "" ""
        add_row "" "client CPU us/request" "$(median "${client_cpu[@]}")" "${client_cpu[*]}" "" ""
        add_row "" "errors (sum)" "$err_total" "${errors[*]}" "0" \
            "$( ((err_total == 0)) && echo ok || echo "ERRORS" )"
    done
fi

# --- replay and memory -----------------------------------------------------------------------
if ((do_replay)); then
    check_quiet
    echo "== replay and memory ($replay_events events; $memory_sessions sessions; $runs runs)"
    out=$("$replay" --events "$replay_events" --sessions "$memory_sessions" --runs "$runs" \
        --dir "$scratch/replay") || die "quorum_replay_bench failed"
    rm -rf "$scratch/replay"
    grep -v '^{' <<<"$out" || true
    grep '^{' <<<"$out" | sed "s/^{/{\"busy_pct\":$busy_pct,/" >>"$results"
    rates=() cpu_rates=() beyond=() perses=()
    while IFS= read -r line; do
        case $line in
            '{"bench":"replay"'*)
                rates+=("$(json_num "$line" events_per_s)")
                cpu_rates+=("$(json_num "$line" events_per_cpu_s)") ;;
            '{"bench":"memory"'*)
                beyond+=("$(json_num "$line" beyond_text_bytes)")
                perses+=("$(json_num "$line" bytes_per_session)") ;;
        esac
    done < <(grep '^{' <<<"$out")
    m=$(median "${rates[@]}")
    add_row "replay ($(fmt_int "$replay_events") events)" "events/s" "$(fmt_int "$m")" \
        "${rates[*]}" ">= 500,000" "$(verdict "$m" ">=" 500000)"
    add_row "" "events per CPU second" "$(fmt_int "$(median "${cpu_rates[@]}")")" \
        "${cpu_rates[*]}" "" ""
    m=$(median "${beyond[@]}")
    add_row "memory ($(fmt_int "$memory_sessions") sessions)" "B/session beyond text" \
        "$(fmt_int "$m")" "${beyond[*]}" "<= 1,024" "$(verdict "$m" "<=" 1024)"
    add_row "" "B/session resident" "$(fmt_int "$(median "${perses[@]}")")" "${perses[*]}" "" ""
fi

# --- webhooks --------------------------------------------------------------------------------
# A step of its own: a fresh server per run, started with --allow-private-webhooks, and
# quorum_webhook_load with its receiver on loopback (see docs/benchmarks.md#webhooks).
if ((do_webhooks)); then
    delivered=() saturated=() wp50=() wp99=() ratio=() sat_ratio=() arrived=() paced_cpu=()
    for ((run = 1; run <= runs; run++)); do
        check_quiet
        before_load=$(load1)
        server_extra=(--allow-private-webhooks)
        start_server
        server_extra=()
        echo "== webhooks, run $run/$runs (server pid $server_pid, port $server_port)"
        out=$("$webhook_load" --port "$server_port" --server-pid "$server_pid" \
            --endpoints "$webhook_endpoints" \
            --rate "$webhook_rate" --duration "$duration" --warmup "$warmup") ||
            { stop_server; die "quorum_webhook_load failed"; }
        stop_server
        grep -v '^{' <<<"$out" || true
        line=$(grep '^{' <<<"$out")
        printf '{"run":%d,"load1":%s,%s\n' "$run" "$before_load" "${line#\{}" >>"$results"
        delivered+=("$(json_num "$line" paced_deliveries_per_s)")
        saturated+=("$(json_num "$line" saturated_deliveries_per_s)")
        wp50+=("$(json_num "$line" p50_us)")
        wp99+=("$(json_num "$line" p99_us)")
        ratio+=("$(awk -v r="$(json_num "$line" append_ratio)" 'BEGIN { printf "%.1f", r * 100 }')")
        paced_cpu+=("$(json_num "$line" paced_server_cpu_pct)")
        sat_ratio+=("$(awk -v r="$(json_num "$line" saturated_append_ratio)" \
            'BEGIN { printf "%.1f", r * 100 }')")
        arrived+=("$(awk -v a="$(json_num "$line" paced_arrived)" -v e="$(json_num "$line" paced_expected)" \
            'BEGIN { printf "%.1f", (e > 0 ? a / e * 100 : 0) }')")
    done
    offered=$((webhook_rate * webhook_endpoints))
    label="webhooks, $webhook_endpoints endpoints"
    add_row "$label" "deliveries/s, paced" "$(fmt_int "$(median "${delivered[@]}")")" \
        "${delivered[*]}" "$(fmt_int "$offered") offered" ""
    add_row "" "% of paced arrived" "$(median "${arrived[@]}")" "${arrived[*]}" "" ""
    add_row "" "server CPU %, paced" "$(median "${paced_cpu[@]}")" "${paced_cpu[*]}" "" ""
    m=$(median "${wp50[@]}")
    add_row "" "commit-to-receipt p50 ms" "$(fmt_ms "$m")" \
        "$(for v in "${wp50[@]}"; do printf '%s ' "$(fmt_ms "$v")"; done)" "" ""
    m=$(median "${wp99[@]}")
    add_row "" "commit-to-receipt p99 ms" "$(fmt_ms "$m")" \
        "$(for v in "${wp99[@]}"; do printf '%s ' "$(fmt_ms "$v")"; done)" "<= 100" \
        "$(verdict "$m" "<=" 100000)"
    m=$(median "${saturated[@]}")
    add_row "" "deliveries/s, saturated" "$(fmt_int "$m")" "${saturated[*]}" ">= 5,000" \
        "$(verdict "$m" ">=" 5000)"
    m=$(median "${ratio[@]}")
    add_row "" "appends with/without %" "$m" "${ratio[*]}" ">= 90" "$(verdict "$m" ">=" 90)"
    add_row "" "same, saturated %" "$(median "${sat_ratio[@]}")" "${sat_ratio[*]}" "" ""
fi

# --- live stream -----------------------------------------------------------------------------
# A step of its own: per run, a fresh server and quorum_stream_load with 1000 subscribers at
# 100 events/s (deliveries, loss, commit-to-receipt latency, server CPU per delivery), then a
# fresh server and 10,000 idle subscribers (server resident memory). See
# docs/benchmarks.md#live-stream.
if ((do_stream)); then
    # 10,000 WebSocket connections need that many descriptors in both processes.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    s_rate=() s_loss=() s_p50=() s_p99=() s_max=() s_cpu=() s_rss=()
    for ((run = 1; run <= runs; run++)); do
        check_quiet
        before_load=$(load1)
        start_server
        echo "== stream, run $run/$runs (server pid $server_pid, port $server_port)"
        out=$("$stream_load" --port "$server_port" --server-pid "$server_pid" \
            --subscribers "$stream_subscribers" --rate "$stream_rate" \
            --duration "$stream_duration") || { stop_server; die "quorum_stream_load failed"; }
        stop_server
        grep -v '^{' <<<"$out" || true
        line=$(grep '^{' <<<"$out")
        printf '{"run":%d,"load1":%s,%s\n' "$run" "$before_load" "${line#\{}" >>"$results"
        s_rate+=("$(json_num "$line" deliveries_per_s)")
        s_loss+=("$(json_num "$line" loss)")
        s_p50+=("$(json_num "$line" p50_us)")
        s_p99+=("$(json_num "$line" p99_us)")
        s_max+=("$(json_num "$line" max_us)")
        s_cpu+=("$(json_num "$line" cpu_us_per_delivery)")

        start_server
        echo "== stream idle, run $run/$runs (server pid $server_pid, port $server_port)"
        out=$("$stream_load" --port "$server_port" --server-pid "$server_pid" \
            --subscribers 0 --idle "$stream_idle") ||
            { stop_server; die "quorum_stream_load --idle failed"; }
        stop_server
        grep -v '^{' <<<"$out" || true
        line=$(grep '^{' <<<"$out")
        printf '{"run":%d,"load1":%s,%s\n' "$run" "$before_load" "${line#\{}" >>"$results"
        s_rss+=("$(awk -v k="$(json_num "$line" rss_idle_kib)" 'BEGIN { printf "%.1f", k / 1024 }')")
    done
    label="stream, $stream_subscribers subs"
    add_row "$label" "deliveries/s" "$(fmt_int "$(median "${s_rate[@]}")")" "${s_rate[*]}" \
        "$(fmt_int $((stream_subscribers * stream_rate)))" ""
    loss_total=$(printf '%s\n' "${s_loss[@]}" | awk '{ s += $1 } END { print s }')
    add_row "" "loss (sum)" "$loss_total" "${s_loss[*]}" "0" \
        "$( ((loss_total == 0)) && echo met || echo "NOT met" )"
    add_row "" "p50 ms" "$(fmt_ms "$(median "${s_p50[@]}")")" \
        "$(for v in "${s_p50[@]}"; do printf '%s ' "$(fmt_ms "$v")"; done)" "" ""
    m=$(median "${s_p99[@]}")
    add_row "" "p99 ms" "$(fmt_ms "$m")" \
        "$(for v in "${s_p99[@]}"; do printf '%s ' "$(fmt_ms "$v")"; done)" "<= 50" \
        "$(verdict "$m" "<=" 50000)"
    add_row "" "max ms" "$(fmt_ms "$(median "${s_max[@]}")")" \
        "$(for v in "${s_max[@]}"; do printf '%s ' "$(fmt_ms "$v")"; done)" "" ""
    m=$(median "${s_cpu[@]}")
    add_row "" "server CPU us/delivery" "$m" "${s_cpu[*]}" "<= 2" "$(verdict "$m" "<=" 2)"
    m=$(median "${s_rss[@]}")
    add_row "stream, $(fmt_int "$stream_idle") idle subs" "server RSS MiB" "$m" "${s_rss[*]}" \
        "<= 200" "$(verdict "$m" "<=" 200)"
fi

# --- audit -----------------------------------------------------------------------------------
# A step of its own (see docs/benchmarks.md#audit): one log of $audit_events events generated by
# quorum_replay_bench (about 5 events a session), then per run `quorum verify` and `quorum export`
# (events/s, from their own summary lines) and the time from `quorum serve`'s start to /readyz 200,
# first without snapshots (--snapshot-every 0: the whole log is folded), then with the snapshot
# written by a clean stop.
# Starts `quorum serve` on the audit log with "$@", waits for /readyz, stops it with SIGTERM;
# sets ready_ms to the milliseconds from the start to ready.
audit_time_to_ready() {
    local port t0 t1 status=0
    port=$(free_port)
    t0=$(date +%s%N)
    env -u QUORUM_TOKEN "$quorum" serve --listen "127.0.0.1:$port" --data "$audit_data" \
        --no-access-log "$@" 2>"$audit_dir/serve.log" &
    server_pid=$!
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            tail -n 5 "$audit_dir/serve.log" >&2 || true
            die "the audit server exited before it was ready"
        fi
        sleep 0.005
    done
    t1=$(date +%s%N)
    kill -TERM "$server_pid"
    wait "$server_pid" || status=$?
    server_pid=
    ((status == 0)) || die "the audit server exited with status $status"
    ready_ms=$(((t1 - t0) / 1000000))
}
if ((do_audit)); then
    check_quiet
    audit_dir=$scratch/audit
    audit_data=$audit_dir/replay-log/data
    echo "== audit ($(fmt_int "$audit_events") events; $runs runs)"
    "$replay" --only replay --events "$audit_events" --runs 1 --dir "$audit_dir" >/dev/null ||
        die "quorum_replay_bench could not generate the audit log"
    verify_rates=() export_rates=() ready_full=() ready_snap=()
    for ((run = 1; run <= runs; run++)); do
        check_quiet
        out=$("$quorum" verify --data "$audit_data" 2>/dev/null) || die "quorum verify failed"
        verify_rates+=("$(sed -n 's/^elapsed: .*(\([0-9,]*\) events\/s)$/\1/p' <<<"$out" | tr -d ,)")
        out=$("$quorum" export --data "$audit_data" 2>&1 >"$audit_dir/export.jsonl") ||
            die "quorum export failed"
        export_rates+=("$(sed -n 's/.*(\([0-9,]*\) events\/s)$/\1/p' <<<"$out" | tail -1 | tr -d ,)")
        audit_time_to_ready --snapshot-every 0
        ready_full+=("$ready_ms")
    done
    rm -f "$audit_dir/export.jsonl"
    audit_time_to_ready  # its clean stop writes the snapshot
    for ((run = 1; run <= runs; run++)); do
        check_quiet
        audit_time_to_ready
        ready_snap+=("$ready_ms")
        grep -q '"msg":"snapshot loaded"' "$audit_dir/serve.log" || die "no snapshot was loaded"
    done
    for ((run = 1; run <= runs; run++)); do
        i=$((run - 1))
        printf '{"bench":"audit","run":%d,"events":%s,"verify_events_per_s":%s,"export_events_per_s":%s,"ready_ms_full_replay":%s,"ready_ms_snapshot":%s}\n' \
            "$run" "$audit_events" "${verify_rates[$i]}" "${export_rates[$i]}" \
            "${ready_full[$i]}" "${ready_snap[$i]}" >>"$results"
    done
    rm -rf "$audit_dir"
    label="audit ($(fmt_int "$audit_events") events)"
    m=$(median "${verify_rates[@]}")
    add_row "$label" "verify events/s" "$(fmt_int "$m")" "${verify_rates[*]}" ">= 300,000" \
        "$(verdict "$m" ">=" 300000)"
    m=$(median "${export_rates[@]}")
    add_row "" "export events/s" "$(fmt_int "$m")" "${export_rates[*]}" ">= 200,000" \
        "$(verdict "$m" ">=" 200000)"
    add_row "" "ready ms, full replay" "$(median "${ready_full[@]}")" "${ready_full[*]}" "" ""
    m=$(median "${ready_snap[@]}")
    add_row "" "ready ms, snapshot" "$m" "${ready_snap[*]}" "<= 1,000" "$(verdict "$m" "<=" 1000)"
fi

# --- summary ---------------------------------------------------------------------------------
echo
echo "Summary: median of $runs run(s); $(nproc) CPUs ($cpu), kernel $(uname -r), $fs_type"
[[ $connections == 64 && $replay_events == 1000000 && $memory_sessions == 1000000 &&
   $duration == 10 ]] ||
    echo "(parameters differ from the defaults: the targets apply to the defaults)"
printf '%-28s %-22s %12s  %-30s %-11s %s\n' benchmark figure median runs target verdict
for r in "${rows[@]}"; do
    IFS='|' read -r a b c d e f <<<"$r"
    printf '%-28s %-22s %12s  %-30s %-11s %s\n' "$a" "$b" "$c" "$d" "$e" "$f"
done
echo
if ((busy_runs > 0)); then
    echo "WARNING: $busy_runs measurement(s) started on a busy machine (other processes used" \
        "more than 10 % of the CPU time in the second before)"
fi
echo "raw results: $results"
