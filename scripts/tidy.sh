#!/usr/bin/env bash
# The clang-tidy gate: clang-tidy 14 with the checks of .clang-tidy on every translation unit of
# src/ in a build directory's compile_commands.json, one per core at a time. Prints the findings
# and exits 1 when there is any (.clang-tidy makes every enabled check an error).
#
#   bash scripts/tidy.sh                  # build/asan, src/ only (what scripts/test.sh runs)
#   bash scripts/tidy.sh build/debug      # another build directory (configured, and built once:
#                                         # the checks need the generated headers)
#   bash scripts/tidy.sh --all            # also tests/ and bench/ (more than twice as long)
#   bash scripts/tidy.sh src/base/text.cpp src/sessions   # only these files or folders
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build/asan"
folders=(src)
only=()
for arg in "$@"; do
    case "$arg" in
        --all) folders=(src tests bench) ;;
        -h | --help)
            sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            if [[ -f "$arg/compile_commands.json" ]]; then
                build="$(cd "$arg" && pwd)"
            elif [[ -e "$arg" ]]; then
                only+=("$(realpath "$arg")")
            else
                echo "tidy.sh: '$arg' is neither a build directory nor a file or folder" >&2
                exit 2
            fi
            ;;
    esac
done

if ((${#only[@]})); then folders=(src tests bench); fi

# clang-tidy 14 first: .clang-tidy is written for it (scripts/install-deps.sh --test installs it).
tidy="$(command -v clang-tidy-14 || command -v clang-tidy || true)"
if [[ -z "$tidy" ]]; then
    echo "tidy.sh: clang-tidy not found (bash scripts/install-deps.sh --test installs it)" >&2
    exit 1
fi
if [[ ! -f "$build/compile_commands.json" ]]; then
    echo "tidy.sh: no $build/compile_commands.json (configure and build that tree first)" >&2
    exit 1
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# The translation units, each once (a test helper compiled into several binaries is listed once
# per binary), without those under node_modules. clang-tidy reads them through a copy of the
# compilation database without the build's precompiled header (tests/CMakeLists.txt): that one is
# GCC's, which clang cannot load, and the checks are to see each file as it is written. A unity
# source, if a target is built with CMake's UNITY_BUILD (Unity/unity_N_cxx.cxx, which #includes
# several files), is replaced by the files it includes, each with its command.
mapfile -t units < <(python3 - "$build/compile_commands.json" "$root" "$out/db" "${folders[@]}" <<'EOF'
import json, os, shlex, sys
db, root, copy, folders = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
prefixes = tuple(os.path.join(root, f) + os.sep for f in folders)
entries = json.load(open(db))
for e in entries:
    args = e.pop("arguments", None) or shlex.split(e.pop("command"))
    kept = []
    for i, a in enumerate(args):
        pch = a == "-include" and i + 1 < len(args) and "cmake_pch" in args[i + 1]
        if pch or a == "-Winvalid-pch" or (i > 0 and args[i - 1] == "-include" and "cmake_pch" in a):
            continue
        kept.append(a)
    e["arguments"] = kept
expanded = []
for e in entries:
    source = os.path.normpath(os.path.join(e["directory"], e["file"]))
    if "/Unity/unity_" not in source:
        expanded.append(e)
        continue
    for line in open(source):
        if line.startswith("#include \""):
            part = line.split('"')[1]
            args = [part if a in (e["file"], source) else a for a in e["arguments"]]
            expanded.append(dict(e, file=part, arguments=args))
entries = expanded
os.makedirs(copy)
json.dump(entries, open(os.path.join(copy, "compile_commands.json"), "w"))
files = {os.path.normpath(os.path.join(e["directory"], e["file"])) for e in entries}
for f in sorted(files):
    if f.startswith(prefixes) and "/node_modules/" not in f:
        print(f)
EOF
)
if ((${#only[@]})); then
    selected=()
    for u in "${units[@]}"; do
        for o in "${only[@]}"; do
            if [[ "$u" == "$o" || "$u" == "$o"/* ]]; then
                selected+=("$u")
                break
            fi
        done
    done
    units=("${selected[@]}")
fi
if ((${#units[@]} == 0)); then
    echo "tidy.sh: no translation unit to check" >&2
    exit 1
fi

jobs="${QUORUM_TIDY_JOBS:-$(nproc)}"
started=$SECONDS
# Each unit's output goes to a file of its own, so that parallel runs do not interleave; a unit
# with findings leaves a .failed marker.
printf '%s\0' "${units[@]}" | xargs -0 -n 1 -P "$jobs" bash -c '
    log="$2/$(echo "$3" | tr / _).log"
    if ! "$0" -p "$1" --quiet "$3" >"$log" 2>&1; then touch "$log.failed"; fi
' "$tidy" "$out/db" "$out" || true

shopt -s nullglob
logs=("$out"/*.log)
if ((${#logs[@]} != ${#units[@]})); then
    echo "tidy.sh: clang-tidy ran on ${#logs[@]} of ${#units[@]} translation units" >&2
    exit 1
fi
failed=0
for log in "${logs[@]}"; do
    # clang-tidy counts the warnings it found in other people's headers, and suppressed.
    findings="$(grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$log" || true)"
    if [[ -e "$log.failed" || -n "$findings" ]]; then
        failed=$((failed + 1))
        printf '%s\n' "$findings"
    fi
done
echo "tidy.sh: $("$tidy" --version | grep -o 'version [0-9.]*'), ${#units[@]} translation units" \
    "in $((SECONDS - started)) s, $failed with findings" >&2
((failed == 0))
