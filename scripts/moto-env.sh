#!/usr/bin/env bash
# Prints (stdout, one line) a Python interpreter that has moto pinned at exactly 5.2.1 with
# its server extras (flask, flask-cors), for test/aws/moto_ext.py and its pytest suite.
#   * the system python3 when it already has moto 5.2.1 + flask + flask_cors;
#   * otherwise a venv in ${LIFECYCLE_MANAGER_CACHE:-$HOME/.cache/lifecycle-manager-testinfra}/moto-5.2.1/
#     with 'moto[server]==5.2.1' and pytest, created only when absent or incomplete.
# A warm run takes well under a second. Progress goes to stderr.
# LIFECYCLE_MANAGER_MOTO_FORCE_VENV=1 skips the system interpreter (to exercise the venv path).
set -euo pipefail

MOTO_VERSION=5.2.1
CACHE_ROOT="${LIFECYCLE_MANAGER_CACHE:-$HOME/.cache/lifecycle-manager-testinfra}"
VENV="$CACHE_ROOT/moto-$MOTO_VERSION"
STAMP="$VENV/.lifecycle-manager-complete"
REQUIREMENTS=("moto[server]==$MOTO_VERSION" pytest)
STAMP_TEXT="${REQUIREMENTS[*]}"

log() { echo "moto-env: $*" >&2; }

# Exit 0 when interpreter $1 has moto $MOTO_VERSION, flask and flask_cors (without importing moto).
has_moto() {
  "$1" - "$MOTO_VERSION" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
from importlib.util import find_spec
ok = version("moto") == sys.argv[1] and find_spec("flask") and find_spec("flask_cors")
sys.exit(0 if ok else 1)
PY
}

if [[ "${LIFECYCLE_MANAGER_MOTO_FORCE_VENV:-}" != 1 ]] && command -v python3 >/dev/null 2>&1 \
   && has_moto python3; then
  python3 -c 'import sys;print(sys.executable)'
  exit 0
fi

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_TEXT" && -x "$VENV/bin/python" ]]; then
  echo "$VENV/bin/python"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.moto-$MOTO_VERSION.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9   # another run may be installing right now
fi
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$STAMP_TEXT" || ! -x "$VENV/bin/python" ]]; then
  command -v python3 >/dev/null 2>&1 || { log "python3 not found"; exit 1; }
  log "creating $VENV with $STAMP_TEXT (first run only)"
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "${REQUIREMENTS[@]}" >&2
  has_moto "$VENV/bin/python" || { log "moto $MOTO_VERSION missing after install"; exit 1; }
  printf '%s' "$STAMP_TEXT" >"$STAMP"
  log "ready"
fi
echo "$VENV/bin/python"
