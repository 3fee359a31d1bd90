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

# Fuzz smoke: after the suite, every libFuzzer target of tests/fuzz runs for a few seconds
# (QUORUM_FUZZ_SECONDS, default 5), on top of the suite's fuzz_replay.* tests, which replay the
# seeds and every kept regression input with the tree above. The targets are built with clang in
# build/fuzz (about 2.5 minutes of CPU when that tree is new), at low priority in the background
# while the suite runs: the suite waits on processes and sockets much of the time. Not with ctest
# arguments (a partial run); QUORUM_FUZZ_SMOKE=0 skips it.
fuzz_smoke="${QUORUM_FUZZ_SMOKE:-1}"
fuzz_seconds="${QUORUM_FUZZ_SECONDS:-5}"
fuzz_build_pid=
fuzz_build_log="$root/build/fuzz-build.log"
if [[ $# -eq 0 && "$fuzz_smoke" != 0 ]]; then
    nice -n 19 bash scripts/fuzz.sh --replay-only >"$fuzz_build_log" 2>&1 &
    fuzz_build_pid=$!
fi
# The two static gates. The format gate is the suite's `format_check` test (clang-format 14
# --dry-run -Werror on every C++ file of src/, tests/ and bench/). The tidy gate is
# scripts/tidy.sh: clang-tidy 14 (.clang-tidy, every finding an error) on every translation unit
# of src/, 6 to 10 minutes of CPU on 2 cores, so it too runs at low priority in the background
# while the suite runs, in a process group of its own. Not with ctest arguments; QUORUM_TIDY=0
# skips it.
tidy_pid=
tidy_log="$root/build/tidy.log"
if [[ $# -eq 0 && "${QUORUM_TIDY:-1}" != 0 ]]; then
    setsid -w nice -n 19 bash scripts/tidy.sh build/asan >"$tidy_log" 2>&1 &
    tidy_pid=$!
fi
stop_background() {
    [[ -z "$fuzz_build_pid" ]] || kill "$fuzz_build_pid" 2>/dev/null || true
    [[ -z "$tidy_pid" ]] || kill -- "-$tidy_pid" 2>/dev/null || true
}
trap stop_background EXIT

# Each test has its own timeout (tests/CMakeLists.txt); --timeout covers any that has none.
ctest --preset asan -j2 --timeout 300 --output-on-failure "$@"
tested=$SECONDS

if [[ -n "$tidy_pid" ]]; then
    tidy_ok=1
    wait "$tidy_pid" || tidy_ok=0
    tidy_pid=
    cat "$tidy_log" >&2
    if ((!tidy_ok)); then
        echo "test.sh: clang-tidy reported findings (above); scripts/tidy.sh FILE rechecks one" >&2
        exit 1
    fi
fi
tidied=$SECONDS

if [[ -n "$fuzz_build_pid" ]]; then
    if ! wait "$fuzz_build_pid"; then
        fuzz_build_pid=
        cat "$fuzz_build_log" >&2
        echo "test.sh: building or replaying the fuzz targets failed" >&2
        exit 1
    fi
    fuzz_build_pid=
    bash scripts/fuzz.sh --no-build --seconds "$fuzz_seconds"
fi

echo "test.sh: built in $((built - started)) s, tested in $((tested - built)) s," \
    "clang-tidy waited for $((tidied - tested)) s more, fuzz smoke $((SECONDS - tidied)) s" >&2
