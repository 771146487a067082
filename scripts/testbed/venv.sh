#!/usr/bin/env bash
# Create or update the virtualenv that `make demo` and `make test` use, then write its stamp.
#
# Usage: venv.sh PYTHON VENV STAMP
# The Makefile names STAMP after a hash of what the venv installs (requirements-dev.txt, platform/pyproject.toml),
# so this runs when their content changes, never because of a checkout's new mtimes. An existing venv is
# updated in place (pip installs only what changed); a missing or broken one is created. pip's output goes to
# VENV/install.log and is shown only on failure; while it runs, a progress line counts the packages.
set -euo pipefail

python=$1 venv=$2 stamp=$3
log="$venv/install.log"

fail() { echo "venv: $*" >&2; exit 1; }

command -v "$python" >/dev/null || fail "$python not found: install Python 3.11 (or run make PYTHON=/path/to/python3.11)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "$python is Python $("$python" -c 'import platform; print(platform.python_version())'), 3.11 or newer is needed: run make PYTHON=/path/to/python3.11"

start=$SECONDS
if "$venv/bin/python" -c '' 2>/dev/null; then
    echo "venv: updating $venv (its requirements changed)"
else
    echo "venv: installing the test and demo dependencies into $venv (takes a few minutes the first time; log: $log)"
    rm -rf "$venv"
    "$python" -m venv "$venv" || fail "$python -m venv $venv failed (Debian: apt-get install python3-venv)"
fi

# Progress while pip works (it takes minutes the first time): on a terminal one line counting the packages pip
# has resolved, rewritten in place; otherwise a line every 25 packages. pip's own output stays in the log.
progress() {
    local tty=0
    [ -t 1 ] && tty=1
    awk -v tty="$tty" '
        /^(Collecting |Requirement already satisfied)/ {
            n++
            if (tty) printf "\rvenv: %d packages resolved", n
            else if (n % 25 == 0) printf "venv: %d packages resolved\n", n
            fflush()
        }
        /^Installing collected packages/ { printf "%svenv: %d packages resolved, installing what is missing\n", (tty ? "\r" : ""), n; fflush() }
    '
}

rm -f "$venv"/.installed*  # stale stamps: a failed install must not leave an older one looking valid
# pip byte-compiles on one core, file after file (half of its 55 s here): install without it, then compile on
# every core. The bytecode must be there: with PYTHONDONTWRITEBYTECODE set, as on these machines, nothing
# would cache what each of the suite's processes compiles on import (tried: +236 s).
if ! { "$venv/bin/python" -m pip install --upgrade pip \
        && "$venv/bin/python" -m pip install --no-compile -r requirements-dev.txt; } 2>&1 \
        | tee "$log" | progress; then
    tail -n 40 "$log" >&2
    fail "pip install failed (last lines above; full log: $log)"
fi
# A file that does not compile (a package's deliberately broken test data) is only compiled, and fails, where
# it is imported, as with pip's own compiling: its errors go to the log, not to the exit status.
"$venv/bin/python" -m compileall -q -j 0 "$venv/lib" >>"$log" 2>&1 || true
touch "$stamp"
echo "venv: ready in $((SECONDS - start)) s"
