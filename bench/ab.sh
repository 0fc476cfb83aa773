#!/usr/bin/env bash
# A/B of two stacpkg builds on the same inputs: `items from-ndjson F > /dev/null`, RUNS rounds,
# each running A then B, and per build the minimum and median CPU seconds (user + system) and
# wall seconds. On a shared 2-core VM the spread between identical runs is ±10–25%; the minimum of
# paired runs is what tells a few percent apart.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY FILE... [RUNS=9]
#   git worktree add /tmp/base <commit> && (cd /tmp/base && cargo build --release)
#   bench/ab.sh /tmp/base/target/release/stacpkg target/release/stacpkg bench/data/*-20k.ndjson
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,9p "$0" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/ab.sh needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
a=$1 b=$2
shift 2
runs=${RUNS:-9}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-28s %-5s %9s %9s %9s\n' input build "cpu min" "cpu med" "wall med"
for f in "$@"; do
  cat "$f" >/dev/null # page cache
  for i in $(seq "$runs"); do
    /usr/bin/time -a -o "$tmp/A" -f "%U %S %e" "$a" items from-ndjson "$f" >/dev/null
    /usr/bin/time -a -o "$tmp/B" -f "%U %S %e" "$b" items from-ndjson "$f" >/dev/null
  done
  for build in A B; do
    cpu=$(awk '{print $1 + $2}' "$tmp/$build" | sort -n | awk '{c[NR] = $1} END {printf "%9.2f %9.2f", c[1], c[int((NR + 1) / 2)]}')
    wall=$(awk '{print $3}' "$tmp/$build" | sort -n | awk '{w[NR] = $1} END {printf "%9.2f", w[int((NR + 1) / 2)]}')
    printf '%-28s %-5s %s %s\n' "$(basename "$f")" "$build" "$cpu" "$wall"
    rm "$tmp/$build"
  done
done
