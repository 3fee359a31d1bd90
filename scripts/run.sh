#!/usr/bin/env bash
# Builds quorum (Release, into build/release) and runs the server on ./data.
#
#   bash scripts/run.sh                       # http://127.0.0.1:8080/
#   bash scripts/run.sh --listen 0.0.0.0:9000 --ttl-hours 2
#
# Extra arguments go to `quorum serve` (see `build/release/quorum serve --help`). Stop with Ctrl-C
# (or SIGTERM): the server finishes the requests in flight and exits.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target quorum

# The address the server will listen on (the --listen given, else the default), and ./data as
# the data directory unless --data is given.
listen="127.0.0.1:8080"
data=(--data ./data)
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --listen=*) listen="${args[i]#--listen=}" ;;
        --listen) if ((i + 1 < ${#args[@]})); then listen="${args[i + 1]}"; fi ;;
        --data | --data=*) data=() ;;
    esac
done
host="${listen%:*}"
port="${listen##*:}"
case "$host" in
    0.0.0.0) host="127.0.0.1" ;;
    "[::]") host="[::1]" ;;
esac
echo "quorum: serving http://${host}:${port}/ (Ctrl-C to stop)" >&2

exec build/release/quorum serve "${data[@]}" "$@"
