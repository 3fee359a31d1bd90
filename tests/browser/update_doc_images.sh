#!/usr/bin/env bash
# Refreshes the pictures of docs/dashboard.md (docs/images/*.png) from the screenshots the browser
# tests save (tests/browser/*_test.mjs take them; see "screenshot(" there).
#
#   tests/browser/update_doc_images.sh [--run] [ARTIFACTS_DIR]
#
# ARTIFACTS_DIR: where the tests saved their screenshots (default: build/asan/browser-artifacts,
# where ctest's browser tests put them). With --run, every browser test is run first (directly
# with node, no ctest) with build/asan/quorum (or $QUORUM_BIN) into ARTIFACTS_DIR; they must pass.
# Every picture must exist and be a PNG under 200 KB; nothing is copied otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# The pictures docs/dashboard.md shows: <screenshot name>:<picture name> (docs/images/<picture>.png).
images=(
  tour-overview-desktop:overview-desktop  # the overview at 1280x800: counters, chart, table, feed
  tour-overview-mobile:overview-mobile    # the overview at 390x844
  tour-session-desktop:session-desktop    # a session: head, timeline, time travel, responses
  tour-session-mobile:session-mobile      # the same session at 390x844
  time-travel:time-travel                 # the session as of an earlier event
  reconnecting:reconnecting               # the overview while the server is down
  token:token                             # the token prompt of a server started with --token
  event-detail-desktop:event-detail       # an event of a session's history, expanded
  rounds-provider-desktop:rounds          # one provider's rounds side by side, with its numbers
  past-all-desktop:past                   # the Past sessions view
  webhooks-desktop:webhooks               # the Webhooks view (admin)
  audit-desktop:audit                     # the Audit view: the chain head and Verify the log
)
max_bytes=$((200 * 1024))

run=0
artifacts="$root/build/asan/browser-artifacts"
for arg in "$@"; do
  case "$arg" in
    --run) run=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    *) artifacts="$(realpath -m "$arg")" ;;
  esac
done

if [[ $run == 1 ]]; then
  binary="${QUORUM_BIN:-$root/build/asan/quorum}"
  [[ -x $binary ]] || { echo "no quorum binary at $binary (build it, or set QUORUM_BIN)" >&2; exit 1; }
  mkdir -p "$artifacts"
  for t in "$here"/*_test.mjs; do
    node "$t" "$binary" --artifacts "$artifacts" --web-root "$root/web"
  done
fi

bad=0
for pair in "${images[@]}"; do
  src="$artifacts/${pair%%:*}.png"
  if [[ ! -f $src ]]; then
    echo "missing: $src (run the browser tests first, or pass --run)" >&2; bad=1; continue
  fi
  if [[ "$(head -c 8 "$src" | od -An -tx1 | tr -d ' \n')" != 89504e470d0a1a0a ]]; then
    echo "not a PNG: $src" >&2; bad=1; continue
  fi
  size=$(stat -c %s "$src")
  if (( size > max_bytes )); then
    echo "too large for the docs: $src ($size bytes > $max_bytes)" >&2; bad=1
  fi
done
(( bad == 0 )) || exit 1

mkdir -p "$root/docs/images"
for pair in "${images[@]}"; do
  dest="$root/docs/images/${pair#*:}.png"
  cp "$artifacts/${pair%%:*}.png" "$dest"
  echo "docs/images/${pair#*:}.png ($(stat -c %s "$dest") bytes)"
done
