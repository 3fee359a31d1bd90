# What the benchmark scripts (scripts/bench.sh, bench/compare_http.sh, bench/mcp_load.sh,
# bench/cluster.sh) share: wrk's figures and its create script, medians, the server's CPU time
# and bytes written from /proc and the machine's background load. Sourced, not run; the caller
# keeps the server's pid in `server_pid`.

# The server's user + system CPU time so far, in clock ticks (fields 14 and 15 of
# /proc/<pid>/stat; getconf CLK_TCK ticks a second).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }

# The bytes the server has caused to be written to storage so far (write_bytes of
# /proc/<pid>/io: every thread's writes that reach the page cache for a file, the WAL's and the
# checkpoints' alike; not the socket traffic).
io_write_bytes() { awk '/^write_bytes:/ { print $2 }' "/proc/$server_pid/io"; }

# The share (percent) of the machine's CPU time used over one second, measured while none of the
# caller's servers runs: other work on the machine lowers every figure, and the load average
# alone cannot tell (it decays over minutes and still counts the previous run).
cpu_busy_pct() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[1] - x[1]
        printf "%.0f", (t > 0 ? 100 * (1 - (y[2] - x[2]) / t) : 0) }'
}

# wrk's summary on stdin: requests/s and the 99th percentile in ms.
wrk_figures() {
    awk '/Requests\/sec/ {rps=$2}
         /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)}
                   else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
         END {printf "%s %s\n", rps, p99}'
}

# Writes the wrk script of the create workload (POST /v1/sessions, a distinct query each) to $1.
write_create_lua() {
    cat >"$1" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
    n = n + 1
    return wrk.format(nil, "/v1/sessions", nil,
        '{"query":"Should we use microservices or a monolith? #' .. n ..
        '","mode":"quick_consensus","metadata":{"team":"platform"}}')
end
LUA
}

# The median of the numbers on stdin, one a line.
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# Makes the run's scratch directory under $scratch_root, named after $1 (sets `scratch`), and
# arranges that at exit the server in `server_pid`, if any, is stopped and the directory removed.
make_scratch() {
    mkdir -p "$scratch_root"
    scratch=$(mktemp -d "$scratch_root/$1.XXXXXX")
    server_pid=
    trap stop_server_and_scratch EXIT
}
stop_server_and_scratch() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
