#!/usr/bin/env bash
# Install the Debian packages the local test bed needs (Docker engine, registry, debootstrap).
#
# Idempotent: packages already installed are skipped, and `apt-get update` runs at most once, only
# when something is missing. Needs root (CI runs as root). Quiet on success, loud on failure.
set -euo pipefail

PACKAGES=(docker.io docker-registry debootstrap)

fail() { echo "testbed/install.sh: $*" >&2; exit 1; }

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "testbed/install.sh: all present (${PACKAGES[*]})"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || fail "missing Debian packages: ${missing[*]}; run this script as root to install them"
command -v apt-get >/dev/null || fail "apt-get not found: install ${missing[*]} with this system's package manager"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
start=$SECONDS
apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; fail "apt-get update failed (output above)"; }
apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
    || { cat "$log" >&2; fail "apt-get install ${missing[*]} failed (output above)"; }
echo "testbed/install.sh: installed ${missing[*]} in $((SECONDS - start)) s"
