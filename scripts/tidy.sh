#!/usr/bin/env bash
# The clang-tidy gate: clang-tidy 14 with the checks of .clang-tidy on every translation unit of
# src/ in a build directory's compile_commands.json, one job per core at a time. Prints the
# findings and exits 1 when there is any (.clang-tidy makes every enabled check an error).
#
#   bash scripts/tidy.sh                  # build/asan, src/ only (what scripts/test.sh runs)
#   bash scripts/tidy.sh build/debug      # another build directory (configured, and built once:
#                                         # the checks need the generated headers)
#   bash scripts/tidy.sh --all            # also tests/ and bench/ (several times as long; the
#                                         # bench programs only from a tree that builds them,
#                                         # not build/asan: build/release, say)
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
            sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
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
#
# Batches. Most of a file's time goes to parsing Asio, Beast and the standard library and to
# running every check over them, again for each file. So the files of src/ that share one
# command (a library's files, as a rule) are checked together, in a batch: one source that
# #includes them all, at about a tenth of the CPU. The files of a library therefore must not
# declare the same name at namespace scope (in `namespace {}` too), as tests/CMakeLists.txt asks
# of test files. Every check sees each file's code in its batch as in the file alone, except the
# two that look only at the main file of a translation unit (misc-unused-using-decls and
# misc-unused-alias-decls): those two run on each file alone, which also shows that every file
# compiles by itself. Files and folders named on the command line, and tests/ and bench/, are
# checked one file at a time with every check.
#
# One job a line: KIND<TAB>FILE<TAB>LABEL, KIND being batch (every check but the two), main (the
# two) or full (every check).
mapfile -t jobs_list < <(python3 - "$build/compile_commands.json" "$root" "$out" \
    "${#only[@]}" "${only[@]}" "${folders[@]}" <<'PY'
import collections, json, os, shlex, sys

db, root, out, n_only = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
only, folders = sys.argv[5:5 + n_only], sys.argv[5 + n_only:]
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
        expanded.append(dict(e, file=source,
                             arguments=[source if a == e["file"] else a for a in e["arguments"]]))
        continue
    for line in open(source):
        if line.startswith("#include \""):
            part = line.split('"')[1]
            args = [part if a in (e["file"], source) else a for a in e["arguments"]]
            expanded.append(dict(e, file=part, arguments=args))

units = {}
for e in expanded:
    f = e["file"]
    if not f.startswith(prefixes) or "/node_modules/" in f or f in units:
        continue
    if only and not any(f == o or f.startswith(o + os.sep) for o in only):
        continue
    units[f] = e


def shared_command(e):
    """A unit's target and its command without its source and output: a batch's files share
    both (the target is named by the object's folder, CMakeFiles/<target>.dir)."""
    a = list(e["arguments"])
    target = ""
    if "-o" in a:
        i = a.index("-o")
        target = a[i + 1].split(".dir/")[0]
        del a[i:i + 2]
    return e["directory"], target, tuple(x for x in a if x != e["file"])


src = os.path.join(root, "src") + os.sep
groups = collections.defaultdict(list)
alone = []
for f, e in sorted(units.items()):
    if f.startswith(src) and not only:
        groups[shared_command(e)].append(e)
    else:
        alone.append(e)

commands, jobs = [], []
for (directory, _, args), members in groups.items():
    if len(members) == 1:
        alone.append(members[0])
        continue
    label = os.path.relpath(os.path.commonpath([m["file"] for m in members]), root)
    batch = os.path.join(out, "batch_%d.cpp" % len(commands))
    with open(batch, "w") as b:
        for m in members:
            b.write('#include "%s"  // NOLINT(bugprone-suspicious-include)\n' % m["file"])
    commands.append({"directory": directory, "file": batch, "arguments": list(args) + [batch]})
    jobs.append(("batch", batch, "%s (%d files)" % (label, len(members))))
    jobs += [("main", m["file"], os.path.relpath(m["file"], root)) for m in members]
jobs += [("full", e["file"], os.path.relpath(e["file"], root)) for e in alone]

os.makedirs(os.path.join(out, "db"))
with open(os.path.join(out, "db", "compile_commands.json"), "w") as d:
    json.dump(commands + list(units.values()), d)
# Batches first: they are the longest jobs.
for kind, f, label in sorted(jobs, key=lambda j: j[0] != "batch"):
    print("%s\t%s\t%s" % (kind, f, label))
PY
)
if ((${#jobs_list[@]} == 0)); then
    echo "tidy.sh: no translation unit to check" >&2
    exit 1
fi

jobs="${QUORUM_TIDY_JOBS:-$(nproc)}"
started=$SECONDS
# Each job's output goes to a file of its own, so that parallel runs do not interleave; a job
# with findings leaves a .failed marker.
printf '%s\0' "${jobs_list[@]}" | xargs -0 -n 1 -P "$jobs" bash -c '
    IFS="$(printf "\t")" read -r kind file label <<<"$4"
    case "$kind" in
        batch) checks=(--checks=-misc-unused-using-decls,-misc-unused-alias-decls) ;;
        main) checks=(--checks=-*,misc-unused-using-decls,misc-unused-alias-decls) ;;
        *) checks=() ;;
    esac
    log="$2/$kind.$(echo "$label" | tr "/ ()" "____").log"
    if ! "$0" -p "$1" --config-file="$3" --quiet "${checks[@]}" "$file" >"$log" 2>&1; then
        touch "$log.failed"
    fi
' "$tidy" "$out/db" "$out" "$root/.clang-tidy" || true

shopt -s nullglob
logs=("$out"/*.log)
if ((${#logs[@]} != ${#jobs_list[@]})); then
    echo "tidy.sh: clang-tidy ran ${#logs[@]} of ${#jobs_list[@]} jobs" >&2
    exit 1
fi
failed=0
files=0
for job in "${jobs_list[@]}"; do [[ "$job" == batch* ]] || files=$((files + 1)); done
for log in "${logs[@]}"; do
    # clang-tidy counts the warnings it found in other people's headers, and suppressed.
    findings="$(grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$log" || true)"
    if [[ -e "$log.failed" || -n "$findings" ]]; then
        failed=$((failed + 1))
        printf '%s\n' "$findings"
    fi
done
echo "tidy.sh: $("$tidy" --version | grep -o 'version [0-9.]*'), $files translation units" \
    "in ${#jobs_list[@]} jobs, $((SECONDS - started)) s, $failed jobs with findings" >&2
((failed == 0))
