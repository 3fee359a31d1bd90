#!/usr/bin/env bash
# Installs what quorum needs to build and run (and, with --test, to run its tests) on Debian 12,
# as root. Installs only what is missing, runs `apt-get update` at most once and only when
# something must be installed, and prints nothing when everything is already there.
#
#   bash scripts/install-deps.sh          # build and run
#   bash scripts/install-deps.sh --test   # also what only the tests need
#   bash scripts/install-deps.sh --fuzz   # also clang and libFuzzer (scripts/fuzz.sh; --test too)
set -euo pipefail

with_test=0
with_fuzz=0
for arg in "$@"; do
    case "$arg" in
        --test) with_test=1 ;;
        --fuzz) with_fuzz=1 ;;
        -h | --help)
            sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "install-deps.sh: unknown argument '$arg' (expected --test or --fuzz)" >&2
            exit 2
            ;;
    esac
done

packages=(
    build-essential cmake ninja-build pkg-config
    libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev
    libsqlite3-dev libssl-dev libcurl4-openssl-dev libpq-dev libgtest-dev libgmock-dev
    sqlite3 curl
)
# Packages that only the tests need: Chromium for the dashboard's browser tests (tests/browser);
# the PostgreSQL 15 server, which the tests run as a throwaway cluster of their own
# (scripts/postgres.sh); nginx, the load balancer in front of two nodes (scripts/nginx.sh). Debian
# 12's `nginx` is the smallest package with the http proxy and WebSocket upgrades (`nginx-light`
# is only `nginx` plus an extra module); clang-format 14 for the format_check test and clang-tidy
# 14 for the tidy gate (scripts/tidy.sh).
test_packages=(chromium postgresql-15 nginx clang-format-14 clang-tidy-14)
# Packages that only the fuzz targets need (tests/fuzz): the compiler, the compiler runtime with
# libFuzzer and the sanitizer runtimes (only recommended by clang-14, so named), and
# llvm-symbolizer for readable stacks.
fuzz_packages=(clang-14 libclang-rt-14-dev llvm-14)

missing=()
is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == "installed" ]]
}
for p in "${packages[@]}"; do
    is_installed "$p" || missing+=("$p")
done
if ((with_test)); then
    for p in "${test_packages[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
fi
# The tests run the fuzz targets briefly too (scripts/test.sh), so --test includes them.
if ((with_fuzz || with_test)); then
    for p in "${fuzz_packages[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
fi
# Node.js and npm run the test tools (tests/node, tests/mcp_sdk). They may come from another
# source than Debian's archive (a newer Node.js ships its own npm), so the commands are what is
# checked. The MCP conformance suite needs Node 22: tests/mcp_sdk installs it as an npm package.
if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if ((${#missing[@]} == 0)); then
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive

# Installing postgresql-15 creates a system cluster ("main", port 5432) and starts it, and
# installing nginx starts it on port 80. The tests start servers of their own (on free loopback
# ports, as an unprivileged user, stopped by process id) and must not depend on, or leave behind,
# system services. So during this install:
# - a policy-rc.d answering 101 ("action forbidden") stops every package from starting a service
#   (invoke-rc.d and deb-systemd-invoke both ask it); one already there (container images ship
#   one) is left as it is, ours is removed afterwards;
# - pg_createcluster is told not to create the "main" cluster, through a file in the directory
#   that Debian's createcluster.conf includes (only when PostgreSQL is being installed now);
# and afterwards, on a host run by systemd, the services of the packages installed now are
# disabled so that they do not start at the next boot either.
policy=/usr/sbin/policy-rc.d
our_policy=0
cleanup_policy() { if ((our_policy)); then rm -f "$policy"; fi; }
trap cleanup_policy EXIT
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# Written by quorum scripts/install-deps.sh for one apt-get run.\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    our_policy=1
fi
services=()
for p in "${missing[@]}"; do
    case "$p" in
        postgresql-15)
            mkdir -p /etc/postgresql-common/createcluster.d
            printf '# quorum runs its own throwaway clusters (scripts/postgres.sh).\ncreate_main_cluster = false\n' \
                >/etc/postgresql-common/createcluster.d/quorum-no-main-cluster.conf
            services+=(postgresql)
            ;;
        nginx) services+=(nginx) ;;
    esac
done

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if ((${#services[@]})) && [[ -d /run/systemd/system ]]; then
    systemctl disable --quiet "${services[@]}" || true
fi
