#!/usr/bin/env bash
# Builds quorum with sanitizers (address, undefined) and warnings as errors into build/asan, and
# runs the whole test suite. Exits non-zero when anything fails.
#
#   bash scripts/test.sh
#   bash scripts/test.sh -R crash     # extra arguments go to ctest (here: only tests matching crash)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$SECONDS

bash scripts/install-deps.sh --test

# JavaScript test tools: `npm ci` in every tests folder with a package-lock.json, skipped when
# that lock file is what its node_modules was installed from.
while IFS= read -r lock; do
    dir="$(dirname "$lock")"
    stamp="$dir/node_modules/.quorum-lock.sha256"
    sum="$(sha256sum "$lock" | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
        continue
    fi
    echo "test.sh: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$sum" >"$stamp"
done < <(find tests -name package-lock.json -not -path '*/node_modules/*' | sort)

cmake --preset asan >/dev/null
cmake --build --preset asan
built=$SECONDS

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
# Each test has its own timeout (tests/CMakeLists.txt); --timeout covers any that has none.
ctest --preset asan -j2 --timeout 300 --output-on-failure "$@"

echo "test.sh: built in $((built - started)) s, tested in $((SECONDS - built)) s" >&2
