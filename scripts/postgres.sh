#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests: a cluster of its own in DIR, listening on
# 127.0.0.1 only, on a free port, trusting loopback connections, run as an unprivileged user and
# stopped by process id. It never touches Debian's system cluster.
#
#   bash scripts/postgres.sh start DIR            # prints the admin URI on stderr
#   bash scripts/postgres.sh stop DIR             # fast shutdown; removes DIR/pid and DIR/uri
#   bash scripts/postgres.sh stop --remove DIR    # ... and rm -rf DIR
#   bash scripts/postgres.sh start --shared DIR   # as the ctest fixture does: see below
#   bash scripts/postgres.sh stop --shared DIR
#
# `start` makes a new cluster in DIR/data (a server still running from an earlier start in DIR,
# say of a killed test run, is stopped by its recorded pid first, and its data thrown away), and
# writes:
#   DIR/uri   postgresql://postgres@127.0.0.1:PORT/postgres (the superuser is always `postgres`)
#   DIR/pid   the postmaster's process id
#   DIR/log   the server's log
# With --shared the user of the server is the calling process (ctest, for its fixture `postgres`),
# and several may share it: `start --shared` keeps a running server that another live process
# uses (adding the caller to DIR/users), and `stop --shared` stops it only when no live user is
# left. So two test runs in the same build tree do not stop each other's server, while the server
# of a killed run (whose user is gone) is stopped and replaced by the next start.
#
# As root it runs the server as the `postgres` user (Debian's package creates it; QUORUM_PG_USER
# names another), otherwise as the invoking user. QUORUM_PG_BIN overrides the directory of
# initdb, pg_ctl and postgres (default /usr/lib/postgresql/15/bin).
#
# Settings: fsync and synchronous_commit on (the defaults: the benchmarks measure durable commits),
# shared_buffers 128MB, max_connections 200 (three nodes with their pools, plus the tests' own
# connections). initdb itself runs with --no-sync: its files are thrown away with DIR anyway.
set -euo pipefail

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

pg_bin="${QUORUM_PG_BIN:-/usr/lib/postgresql/15/bin}"
run_as=()
pg_user=""
if [[ $(id -u) -eq 0 ]]; then
    pg_user="${QUORUM_PG_USER:-postgres}"
    if ! id "$pg_user" >/dev/null 2>&1; then
        echo "postgres.sh: user '$pg_user' does not exist (install postgresql-15:" \
            "bash scripts/install-deps.sh --test)" >&2
        exit 1
    fi
    run_as=(runuser -u "$pg_user" --)
fi

# The postmaster pid recorded in $1/pid (or, when a start was interrupted before writing it, in
# $1/data/postmaster.pid), when that process is alive and is the postmaster of $1/data (a recycled
# pid is not ours); empty otherwise.
live_pid() {
    local dir="$1" pid cmdline
    if [[ -f "$dir/pid" ]]; then
        pid="$(cat "$dir/pid")"
    elif [[ -f "$dir/data/postmaster.pid" ]]; then
        pid="$(head -n 1 "$dir/data/postmaster.pid")"
    else
        return 0
    fi
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 0
    if [[ "$cmdline" == *postgres*"$dir/data"* ]]; then
        echo "$pid"
    fi
}

# Stops the server of $1 by pid: SIGINT (fast shutdown: ends the sessions, checkpoints); if it is
# still there after 25 s SIGQUIT (immediate shutdown), after 30 s SIGKILL.
stop_server() {
    local dir="$1" pid i
    pid="$(live_pid "$dir")"
    if [[ -n "$pid" ]]; then
        kill -INT "$pid" 2>/dev/null || true
        for ((i = 0; i < 3000; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            if ((i == 3000 - 500)); then kill -QUIT "$pid" 2>/dev/null || true; fi
            sleep 0.01
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
        fi
    fi
    rm -f "$dir/pid" "$dir/uri"
}

# A port nothing listens on yet (the server's bind decides; start retries on a collision).
pick_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# "PID:START" of a process (START: its start time in clock ticks, /proc/PID/stat field 22), so
# that a recycled pid is not taken for the process recorded.
process_id() {
    local pid="$1" stat
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    # shellcheck disable=SC2086 # the fields from the third (state) on, split on spaces
    set -- $stat
    echo "$pid:${20}"
}

# The live users listed in $1/users (written back without the dead ones), one per line.
live_users() {
    local dir="$1" user pid
    [[ -f "$dir/users" ]] || return 0
    local kept=()
    while IFS= read -r user; do
        pid="${user%%:*}"
        [[ -n "$pid" ]] || continue
        if [[ "$(process_id "$pid" 2>/dev/null)" == "$user" ]]; then kept+=("$user"); fi
    done <"$dir/users"
    if ((${#kept[@]})); then printf '%s\n' "${kept[@]}" >"$dir/users"; else rm -f "$dir/users"; fi
    if ((${#kept[@]})); then printf '%s\n' "${kept[@]}"; fi
}

start() {
    local dir="$1" me="$2"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd -P)"
    if [[ -n "$me" ]]; then
        if [[ -n "$(live_users "$dir")" && -n "$(live_pid "$dir")" && -s "$dir/uri" ]]; then
            echo "$me" >>"$dir/users"
            echo "postgres.sh: sharing PostgreSQL (pid $(cat "$dir/pid")) at $(cat "$dir/uri")" >&2
            return
        fi
        rm -f "$dir/users"
    fi
    stop_server "$dir"
    rm -rf "$dir/data" "$dir/uri" "$dir/log"
    if [[ -n "$pg_user" ]]; then
        chown "$pg_user" "$dir"
    fi
    if ! "${run_as[@]}" test -w "$dir" -a -x "$dir"; then
        echo "postgres.sh: $dir is not writable by ${pg_user:-$(id -un)}" \
            "(every directory above it must be searchable)" >&2
        exit 1
    fi
    "${run_as[@]}" "$pg_bin/initdb" --pgdata="$dir/data" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        echo "postgres.sh: initdb failed" >&2
        exit 1
    }
    # Loopback TCP and the socket in DIR only; trust, since only this machine can connect.
    "${run_as[@]}" tee "$dir/data/pg_hba.conf" >/dev/null <<'EOF'
local all         all                 trust
host  all         all   127.0.0.1/32  trust
host  replication all   127.0.0.1/32  trust
EOF
    # A unix socket path is limited to 107 bytes; a deeper DIR gets no socket (TCP only).
    local sockets="$dir"
    if ((${#dir} > 90)); then sockets=""; fi
    local attempt port pid
    for ((attempt = 1; attempt <= 20; attempt++)); do
        port="$(pick_port)"
        "${run_as[@]}" tee "$dir/data/postgresql.auto.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockets'
max_connections = 200
shared_buffers = 128MB
fsync = on
synchronous_commit = on
logging_collector = off
EOF
        # An empty log per attempt, owned by the server's user (pg_ctl appends to it).
        "${run_as[@]}" cp /dev/null "$dir/log"
        # 9>&-: the server must not inherit the lock on DIR (see the end of this script).
        if "${run_as[@]}" "$pg_bin/pg_ctl" --pgdata="$dir/data" --log="$dir/log" --wait \
            --timeout=30 --silent start >/dev/null 2>&1 9>&-; then
            pid="$(head -n 1 "$dir/data/postmaster.pid")"
            echo "$pid" >"$dir/pid"
            echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/uri"
            chmod 644 "$dir/uri" "$dir/pid"
            if [[ -n "$me" ]]; then echo "$me" >"$dir/users"; fi
            echo "postgres.sh: PostgreSQL (pid $pid) at $(cat "$dir/uri")" >&2
            return
        fi
        if ! grep -q 'could not bind\|could not create listen socket' "$dir/log"; then
            cat "$dir/log" >&2
            echo "postgres.sh: the server did not start (log: $dir/log)" >&2
            exit 1
        fi
        # Someone took the port between the check and the bind: another port.
    done
    echo "postgres.sh: no free port after 20 attempts (log: $dir/log)" >&2
    exit 1
}

stop() {
    local remove="$1" dir="$2" me="$3" others
    if [[ ! -d "$dir" ]]; then
        return 0
    fi
    dir="$(cd "$dir" && pwd -P)"
    if [[ -n "$me" ]]; then
        others="$(live_users "$dir" | grep -vxF "$me" || true)"
        if [[ -n "$others" ]]; then
            echo "$others" >"$dir/users"
            echo "postgres.sh: PostgreSQL left running for its other users" >&2
            return 0
        fi
        rm -f "$dir/users"
    fi
    stop_server "$dir"
    if ((remove)); then
        rm -rf "$dir"
    fi
}

command="${1:-}"
[[ $# -ge 1 ]] && shift
remove=0
shared=0
dir=""
for arg in "$@"; do
    case "$arg" in
        --remove) remove=1 ;;
        --shared) shared=1 ;;
        -*) usage ;;
        *)
            [[ -z "$dir" ]] || usage
            dir="$arg"
            ;;
    esac
done
[[ -n "$dir" ]] || usage
if [[ "$command" == stop && ! -d "$dir" ]]; then
    exit 0
fi
me=""
if ((shared)); then
    me="$(process_id "$PPID")"
fi
# One start or stop at a time per DIR (two test runs may reach the fixture together).
mkdir -p "$(dirname "$dir")"
exec 9>>"$(dirname "$dir")/.$(basename "$dir").lock"
flock 9
case "$command" in
    start)
        ((remove == 0)) || usage
        start "$dir" "$me"
        ;;
    stop) stop "$remove" "$dir" "$me" ;;
    *) usage ;;
esac
