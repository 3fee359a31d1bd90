#!/usr/bin/env bash
# Builds quorum with sanitizers (address, undefined) and warnings as errors into build/asan, and
# runs the whole test suite, then the fuzz targets briefly (see below). Exits non-zero when
# anything fails.
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
tested=$SECONDS

# Fuzz smoke: every libFuzzer target of tests/fuzz for a few seconds (clang, build/fuzz), after
# the suite (whose fuzz_replay.* tests already replayed the seeds and regression inputs with the
# tree above). The clang build of the libraries takes about 2.5 minutes on 2 cores when
# build/fuzz is new, so by default it runs only when the whole command stays within
# QUORUM_TEST_BUDGET seconds (default 840); QUORUM_FUZZ_SMOKE=1 always runs it, =0 never. Not
# with ctest arguments.
fuzz_smoke="${QUORUM_FUZZ_SMOKE:-auto}"
fuzz_seconds="${QUORUM_FUZZ_SECONDS:-10}"
if [[ $# -eq 0 && "$fuzz_smoke" != 0 ]]; then
    if [[ -f build/fuzz/build.ninja ]]; then fuzz_build=60; else fuzz_build=200; fi
    fuzz_needs=$((fuzz_build + 5 * (fuzz_seconds + 3)))
    if [[ "$fuzz_smoke" == 1 || $((SECONDS - started + fuzz_needs)) -le "${QUORUM_TEST_BUDGET:-840}" ]]; then
        bash scripts/fuzz.sh --seconds "$fuzz_seconds"
    else
        echo "test.sh: fuzz smoke skipped: it needs about $fuzz_needs s more and the run has taken" \
            "$((SECONDS - started)) s (QUORUM_FUZZ_SMOKE=1 runs it; or bash scripts/fuzz.sh)" >&2
    fi
fi

echo "test.sh: built in $((built - started)) s, tested in $((tested - built)) s," \
    "fuzz smoke $((SECONDS - tested)) s" >&2
