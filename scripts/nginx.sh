#!/usr/bin/env bash
# nginx for the tests: runs nginx with the caller's configuration, in the foreground of a
# background process (daemon off), as an unprivileged user, and stops it by process id.
#
#   bash scripts/nginx.sh start DIR CONF   # returns once nginx listens; its pid goes to DIR/pid
#   bash scripts/nginx.sh stop DIR         # stops the nginx started in DIR (SIGTERM, then SIGKILL)
#
# DIR is nginx's prefix (-p): relative paths of CONF resolve in it, the error log is DIR/error.log.
# CONF must not set `daemon`, `pid` or `user` (this script does) and, since nginx does not run as
# root, must put the http temp paths (client_body_temp_path, proxy_temp_path, fastcgi_temp_path,
# uwsgi_temp_path, scgi_temp_path) and the access log inside DIR; it listens on 127.0.0.1 ports
# of its choice. tests/support/nginx.hpp writes such a configuration.
#
# As root, nginx runs as `nobody` (QUORUM_NGINX_USER names another), which is given DIR;
# otherwise as the invoking user.
set -euo pipefail

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

run_as=()
ng_user=""
if [[ $(id -u) -eq 0 ]]; then
    ng_user="${QUORUM_NGINX_USER:-nobody}"
    # setpriv executes nginx in place (no child process), so $! below is nginx's master.
    run_as=(setpriv "--reuid=$ng_user" "--regid=$(id -g "$ng_user")" --clear-groups --)
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
if [[ ! -x "$nginx_bin" ]]; then
    echo "nginx.sh: nginx is not installed (bash scripts/install-deps.sh --test)" >&2
    exit 1
fi

# The pid recorded in $1/pid when it is alive and is an nginx of prefix $1; empty otherwise.
live_pid() {
    local dir="$1" pid cmdline
    [[ -f "$dir/pid" ]] || return 0
    pid="$(cat "$dir/pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 0
    if [[ "$cmdline" == *nginx*"-p $dir/ "* ]]; then
        echo "$pid"
    fi
}

stop_server() {
    local dir="$1" pid i
    pid="$(live_pid "$dir")"
    if [[ -n "$pid" ]]; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 1000; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.01
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/pid" "$dir/nginx.pid"
}

start() {
    local dir="$1" conf="$2"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd -P)"
    conf="$(cd "$(dirname "$conf")" && pwd -P)/$(basename "$conf")"
    stop_server "$dir"
    if [[ -n "$ng_user" ]]; then
        chown -R "$ng_user" "$dir"
    fi
    local args=(-p "$dir/" -c "$conf" -e "$dir/error.log" -g "daemon off; pid $dir/nginx.pid;")
    "${run_as[@]}" "$nginx_bin" "${args[@]}" -t -q || {
        echo "nginx.sh: the configuration $conf does not pass nginx -t" >&2
        exit 1
    }
    "${run_as[@]}" "$nginx_bin" "${args[@]}" </dev/null >>"$dir/nginx.out" 2>&1 &
    local pid=$! i
    # nginx writes its pid file once its sockets are bound.
    for ((i = 0; i < 1000; i++)); do
        if [[ -s "$dir/nginx.pid" ]]; then
            echo "$pid" >"$dir/pid"
            echo "nginx.sh: nginx (pid $pid) in $dir" >&2
            return
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$dir/nginx.out" "$dir/error.log" >&2 2>/dev/null || true
            echo "nginx.sh: nginx exited (log: $dir/error.log)" >&2
            exit 1
        fi
        sleep 0.01
    done
    kill -KILL "$pid" 2>/dev/null || true
    echo "nginx.sh: nginx did not start within 10 s (log: $dir/error.log)" >&2
    exit 1
}

case "${1:-}" in
    start)
        [[ $# -eq 3 ]] || usage
        start "$2" "$3"
        ;;
    stop)
        [[ $# -eq 2 ]] || usage
        if [[ -d "$2" ]]; then
            stop_server "$(cd "$2" && pwd -P)"
        fi
        ;;
    *) usage ;;
esac
