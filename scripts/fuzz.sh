#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang into build/fuzz (--preset: another tree) and
# runs each for a while.
# Replays every kept regression input first; a crash, a broken invariant, a leak or a timeout is
# copied into tests/fuzz/regressions/<target>/ and makes the script exit non-zero.
#
#   bash scripts/fuzz.sh                       # every target for 60 s
#   bash scripts/fuzz.sh --seconds 600 http_request stored_event
#   bash scripts/fuzz.sh --seconds 10 --jobs 2 # two processes per target (libFuzzer -fork)
#   bash scripts/fuzz.sh --replay-only         # only the regression inputs and the seed corpus
#   bash scripts/fuzz.sh --keep-going          # go on after failures, keep one input per new one
#   bash scripts/fuzz.sh --preset fuzz-smoke    # the -O0 tree of scripts/test.sh's smoke
#
# Options: --seconds N (per target, default 60), --jobs J (default 1), --replay-only,
# --keep-going (libFuzzer -fork with -ignore_crashes: a known open failure does not stop the
# search for others; the exit status is still 1), --no-build, --list (prints the targets),
# --preset P (the configure preset and so the tree build/P: `fuzz`, the default, at -O1 for
# campaigns; `fuzz-smoke`, at -O0, cheaper to build and slower to run, for short runs).
# The grown corpus of each target is kept in build/P/corpus/<target>/ between runs (the seeds
# in tests/fuzz/corpus/ are only read). With QUORUM_BUILD_LOCK set to a file, the build runs
# under `flock` on it (machines where several builds share the CPUs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

targets_all=(request_body stored_event http_request stream_query webhook_url mcp_request)
seconds=60
jobs=1
replay_only=0
keep_going=0
build=1
preset=fuzz
targets=()
while (($#)); do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --replay-only) replay_only=1; shift ;;
        --keep-going) keep_going=1; shift ;;
        --no-build) build=0; shift ;;
        --preset) preset="$2"; shift 2 ;;
        --list) printf '%s\n' "${targets_all[@]}"; exit 0 ;;
        -h | --help)
            sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        -*)
            echo "fuzz.sh: unknown option '$1'" >&2
            exit 2
            ;;
        *)
            if [[ ! " ${targets_all[*]} " == *" $1 "* ]]; then
                echo "fuzz.sh: unknown target '$1' (targets: ${targets_all[*]})" >&2
                exit 2
            fi
            targets+=("$1")
            shift
            ;;
    esac
done
((${#targets[@]})) || targets=("${targets_all[@]}")
[[ "$seconds" =~ ^[0-9]+$ && "$jobs" =~ ^[1-9][0-9]*$ ]] || {
    echo "fuzz.sh: --seconds and --jobs take positive integers" >&2
    exit 2
}
[[ "$preset" == fuzz || "$preset" == fuzz-smoke ]] || {
    echo "fuzz.sh: --preset is fuzz or fuzz-smoke" >&2
    exit 2
}

tree="build/$preset"
bin="$tree/tests/fuzz"
if ((build)); then
    bash scripts/install-deps.sh --fuzz
    cmake --preset "$preset" >/dev/null
    names=()
    for t in "${targets[@]}"; do names+=("${t}_fuzz"); done
    build_started=$SECONDS
    if [[ -n "${QUORUM_BUILD_LOCK:-}" ]]; then
        flock "$QUORUM_BUILD_LOCK" cmake --build "$tree" --target "${names[@]}"
    else
        cmake --build "$tree" --target "${names[@]}"
    fi
    echo "fuzz.sh: built in $((SECONDS - build_started)) s" >&2
fi

# libFuzzer reports ASan and UBSan findings itself; symbolized stacks need llvm-symbolizer.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" ]] && command -v llvm-symbolizer-14 >/dev/null 2>&1; then
    export ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer-14)"
fi

# The first line of what a failing input reports (empty when it passes).
signature() {
    "$1" -timeout=25 "$2" 2>&1 |
        grep -aoE 'invariant broken: .*|ERROR: [A-Za-z]+Sanitizer: [a-z-]+|runtime error: .*|Assertion .*|ERROR: libFuzzer: [a-z-]+' |
        head -n 1 || true
}

failed=()
summary=()
for t in "${targets[@]}"; do
    exe="$bin/${t}_fuzz"
    [[ -x "$exe" ]] || {
        echo "fuzz.sh: $exe is missing (run without --no-build)" >&2
        exit 1
    }
    seeds="tests/fuzz/corpus/$t"
    regressions="tests/fuzz/regressions/$t"
    dict="tests/fuzz/dict/$t.dict"
    work="$tree/corpus/$t"
    artifacts="$tree/artifacts/$t"
    log="$tree/logs/$t.log"
    mkdir -p "$work" "$artifacts" "$regressions" "$(dirname "$log")"
    find "$artifacts" -type f -delete
    dict_arg=()
    [[ -f "$dict" ]] && dict_arg=("-dict=$dict")

    # 1. Every kept regression input and every seed, once each.
    if ! "$exe" -runs=0 -timeout=25 -artifact_prefix="$artifacts/replay-" "$regressions" "$seeds" \
        >"$log.replay" 2>&1; then
        echo "fuzz.sh: $t: a regression input or seed fails; see $log.replay" >&2
        grep -aE 'ERROR: |runtime error|invariant broken|Assertion|SUMMARY|^Running' "$log.replay" |
            tail -n 10 >&2 || true
        failed+=("$t")
        if ((!keep_going || replay_only)); then
            summary+=("$t: regression replay FAILED")
            continue
        fi
    elif ((replay_only)); then
        replayed=$(find "$regressions" "$seeds" -type f ! -name '.*' | wc -l)
        summary+=("$t: $replayed regression and seed inputs replayed, no failure")
        continue
    fi

    # 2. Fuzzing: new units go to the work corpus, the seeds and regressions are read only.
    before=$(find "$work" -type f | wc -l)
    fork_arg=()
    ((jobs > 1)) && fork_arg=("-fork=$jobs")
    ((keep_going)) && fork_arg=("-fork=$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    status=0
    "$exe" "$work" "$seeds" "$regressions" "${dict_arg[@]}" "${fork_arg[@]}" \
        -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
    after=$(find "$work" -type f | wc -l)
    # The final stats of the process (of each with -fork), else the last status line.
    execs=$(awk '/stat::number_of_executed_units:/ { n += $2; seen = 1 }
                 END { if (seen) print n }' "$log")
    [[ -n "$execs" ]] || execs=$(grep -aEo '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)
    cov=$(grep -aEo 'cov: [0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+' || true)
    line="$t: ${execs:-0} executions in ${seconds} s, coverage ${cov:-?} edges, corpus $before -> $after"
    crashes=()
    while IFS= read -r -d '' f; do crashes+=("$f"); done < <(find "$artifacts" -type f -print0)
    if ((status != 0 || ${#crashes[@]})); then
        # One input per distinct failure (its first report line) that no kept input shows yet:
        # with --keep-going the same open defect is found again and again.
        declare -A seen=()
        kept=()
        while IFS= read -r -d '' f; do
            sig=$(signature "$exe" "$f")
            [[ -n "$sig" ]] && seen[$sig]=1
        done < <(find "$regressions" -type f ! -name '.*' -print0)
        for f in "${crashes[@]}"; do
            sig=$(signature "$exe" "$f")
            [[ -n "${seen[$sig]:-}" ]] && continue
            seen[$sig]=1
            cp "$f" "$regressions/"
            kept+=("$regressions/$(basename "$f")")
        done
        unset seen
        echo "fuzz.sh: $t FAILED (exit $status); inputs kept:" >&2
        for f in "${kept[@]}"; do echo "  $f" >&2; done
        grep -aE 'ERROR: |runtime error|invariant broken|Assertion|SUMMARY' "$log" | head -n 10 >&2 ||
            true
        echo "fuzz.sh: full output in $log" >&2
        [[ " ${failed[*]} " == *" $t "* ]] || failed+=("$t")
        line="$line, FAILED (${#crashes[@]} failing inputs, ${#kept[@]} distinct kept)"
    fi
    summary+=("$line")
done

printf 'fuzz.sh: %s\n' "${summary[@]}" >&2
if ((${#failed[@]})); then
    echo "fuzz.sh: failing targets: ${failed[*]}" >&2
    exit 1
fi
