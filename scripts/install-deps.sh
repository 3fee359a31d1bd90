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
    libsqlite3-dev libssl-dev libcurl4-openssl-dev libgtest-dev libgmock-dev
    sqlite3 curl
)
# Packages that only the tests need: Chromium for the dashboard's browser tests (tests/browser).
test_packages=(chromium)
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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
