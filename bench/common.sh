# Shared by the bench scripts (sourced from the repository root).

# python_original: print the path of the Python original's `stacpkg` (stacpkg 0.1.4 in a Python
# 3.13 venv at bench/.venv-stacpkg-py, installed on first use), or fail when PYTHON_ORIGINAL=0 or
# no Python 3.13 is available.
python_original() {
  [ "${PYTHON_ORIGINAL:-1}" = 1 ] || return 1
  local venv=bench/.venv-stacpkg-py
  if [ ! -x $venv/bin/stacpkg ]; then
    local py
    py=$(ls -d "$HOME"/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | head -1) || true
    [ -n "$py" ] || py=$(command -v python3.13) || return 1
    "$py" -m venv $venv && $venv/bin/pip install --quiet stacpkg==0.1.4 >&2 || return 1
  fi
  echo "$PWD/$venv/bin/stacpkg"
}
