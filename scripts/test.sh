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

# The fuzz targets' seeds and regression inputs are replayed once a run: by the fuzz smoke (below)
# when it runs, with clang's sanitizers, else by the suite's fuzz_replay.* tests, which build the
# targets a second time, with GCC's (about 60 s of CPU).
fuzz_smoke="${QUORUM_FUZZ_SMOKE:-1}"
fuzz_replay=ON
[[ $# -ne 0 || "$fuzz_smoke" == 0 ]] || fuzz_replay=OFF
cmake --preset asan -DQUORUM_FUZZ_REPLAY="$fuzz_replay" >/dev/null

# Work that runs beside the build and the suite, at the lowest priority: it takes the cores when
# the build links or waits and while the suite waits on processes and sockets, which is much of
# the time. Each runs in a session (and process group) of its own, stopped whole when this script
# exits. A new session is also a scheduling group of its own where the kernel groups by session
# (autogroup, on in Debian's kernels), and in it `nice` alone would not lower it against the
# build and the suite: the group's own nice value is raised too.
background=(setsid -w bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null || true; exec nice -n 19 "$@"'
    background)
fuzz_build_pid=
tidy_pid=
stop_background() {
    [[ -z "$fuzz_build_pid" ]] || kill -- "-$fuzz_build_pid" 2>/dev/null || true
    [[ -z "$tidy_pid" ]] || kill -- "-$tidy_pid" 2>/dev/null || true
}
trap stop_background EXIT

# The two static gates. The format gate is the suite's `format_check` test (clang-format 14
# --dry-run -Werror on every C++ file of src/, tests/ and bench/). The tidy gate is
# scripts/tidy.sh: clang-tidy 14 (.clang-tidy, every finding an error) on every translation unit
# of src/, in batches, about 5 minutes of CPU. It needs only the compilation database and the
# unity sources the configure step writes (src/ has no generated headers), so it starts before
# the build. Not with ctest arguments; QUORUM_TIDY=0 skips it.
tidy_log="$root/build/tidy.log"
if [[ $# -eq 0 && "${QUORUM_TIDY:-1}" != 0 ]]; then
    "${background[@]}" bash scripts/tidy.sh build/asan >"$tidy_log" 2>&1 &
    tidy_pid=$!
fi

cmake --build --preset asan
built=$SECONDS

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

# Fuzz smoke: every libFuzzer target of tests/fuzz runs for a few seconds (QUORUM_FUZZ_SECONDS,
# default 5). The targets are built with clang in build/fuzz-smoke (the preset of that name: -O0
# and src/ in unity batches, about 170 s of CPU, less than the -O1 tree of long runs, build/fuzz;
# a few seconds of fuzzing need correctness, not speed) and their seeds and every kept regression
# input replayed, in the background while the suite runs; they run after it, half of them on
# each core.
# Not with ctest arguments (a partial run); QUORUM_FUZZ_SMOKE=0 skips it.
fuzz_seconds="${QUORUM_FUZZ_SECONDS:-5}"
fuzz_build_log="$root/build/fuzz-build.log"
if [[ $# -eq 0 && "$fuzz_smoke" != 0 ]]; then
    "${background[@]}" bash scripts/fuzz.sh --preset fuzz-smoke --replay-only \
        >"$fuzz_build_log" 2>&1 &
    fuzz_build_pid=$!
fi

# Each test has its own timeout (tests/CMakeLists.txt); --timeout covers any that has none.
ctest --preset asan -j2 --timeout 300 --output-on-failure "$@"
tested=$SECONDS

# The fuzz smoke first (the tidy gate goes on meanwhile at its low priority), in two halves side
# by side.
fuzzed=$SECONDS
if [[ -n "$fuzz_build_pid" ]]; then
    if ! wait "$fuzz_build_pid"; then
        fuzz_build_pid=
        cat "$fuzz_build_log" >&2
        echo "test.sh: building or replaying the fuzz targets failed" >&2
        exit 1
    fi
    fuzz_build_pid=
    mapfile -t fuzz_targets < <(bash scripts/fuzz.sh --list)
    half=$(((${#fuzz_targets[@]} + 1) / 2))
    fuzz_ok=1
    smoke=(bash scripts/fuzz.sh --preset fuzz-smoke --no-build --seconds "$fuzz_seconds")
    "${smoke[@]}" "${fuzz_targets[@]:0:half}" &
    fuzz_half=$!
    "${smoke[@]}" "${fuzz_targets[@]:half}" || fuzz_ok=0
    wait "$fuzz_half" || fuzz_ok=0
    ((fuzz_ok)) || exit 1
fi
fuzzed=$((SECONDS - fuzzed))

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

echo "test.sh: built in $((built - started)) s, tested in $((tested - built)) s," \
    "fuzz smoke $fuzzed s, clang-tidy waited for $((SECONDS - tested - fuzzed)) s more" >&2
