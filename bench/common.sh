# Shared by the bench scripts (sourced from the repository root).

# python_original: print the path of the Python original's `stacpkg` (stacpkg 0.1.4 in a Python
# 3.13 venv at bench/.venv-stacpkg-py, installed on first use), or fail when PYTHON_ORIGINAL=0 or
# no Python 3.13 is available.
python_original() {
  [ "${PYTHON_ORIGINAL:-1}" = 1 ] || return 1
  # The test suite's copy (scripts/test.sh) is the same package and version.
  [ -x .venv-original/bin/stacpkg ] && { echo "$PWD/.venv-original/bin/stacpkg"; return; }
  local venv=bench/.venv-stacpkg-py
  if [ ! -x $venv/bin/stacpkg ]; then
    local py
    py=$(ls -d "$HOME"/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | head -1) || true
    [ -n "$py" ] || py=$(command -v python3.13) || return 1
    "$py" -m venv $venv && $venv/bin/pip install --quiet stacpkg==0.1.4 >&2 || return 1
  fi
  echo "$PWD/$venv/bin/stacpkg"
}

# bench_setup NAME: check for /usr/bin/time, install the test services, build the release binary;
# sets `ours` (the binary) and `out` (bench/out/NAME, emptied).
bench_setup() {
  [ -x /usr/bin/time ] || { echo "bench needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
  scripts/services.sh install
  cargo build --release --locked --quiet
  ours=$PWD/target/release/stacpkg
  out=$PWD/bench/out/$1
  rm -rf "$out"
  mkdir -p "$out"
}

# best_of RUNS CLEANUP CMD [SYNC]: run CLEANUP then CMD (bash -c strings) RUNS times; sets
# BEST_SECS, BEST_RSS (KB) and BEST_CPU (user + system seconds of CMD) of the fastest run. With SYNC=1 the clock stops after `sync`.
best_of() {
  local runs=$1 cleanup=$2 cmd=$3 sync=${4:-0} start end secs
  BEST_SECS="" BEST_RSS=0 BEST_CPU=0
  for _ in $(seq 1 "$runs"); do
    bash -c "$cleanup"
    [ "$sync" = 1 ] && sync
    start=$(date +%s.%N)
    /usr/bin/time -o "$out/time" -f "%M %U %S" bash -c "$cmd"
    [ "$sync" = 1 ] && sync
    end=$(date +%s.%N)
    secs=$(echo "$end - $start" | bc -l)
    if [ -z "$BEST_SECS" ] || [ "$(echo "$secs < $BEST_SECS" | bc -l)" = 1 ]; then
      BEST_SECS=$secs
      read -r BEST_RSS BEST_CPU < <(tail -1 "$out/time" | awk '{print $1, $2 + $3}')
    fi
  done
}

# timed LABEL BYTES CLEANUP CMD [RUNS]: the best of RUNS (default 3) runs of CMD (a bash -c
# string), CLEANUP run before each: one line with MB/s and peak RSS. The clock stops after `sync`:
# this VM caches only ~2 GB, so without it a run is timed into the page cache and the next one pays
# for its writeback; with it every tool is timed until its bytes are on disk, like dd with
# conv=fdatasync. The disk is noisy, hence best of three.
timed() {
  local label=$1 bytes=$2 cleanup=$3 cmd=$4 runs=${5:-3}
  best_of "$runs" "$cleanup" "$cmd" 1
  printf "%-44s %8.2f s %8.1f MB/s  peak RSS %5d MB\n" "$label" "$BEST_SECS" \
    "$(echo "$bytes / 1000000 / $BEST_SECS" | bc -l)" "$((BEST_RSS / 1024))"
}
