#!/usr/bin/env bash
# What `make test` (and `make testbed`) sets up on this machine before the tests, besides the virtualenv:
# the test bed's Debian packages (scripts/testbed/install.sh) and the base image's debootstrapped rootfs
# (scripts/testbed/base-image.sh, cached: once per machine). The servers themselves (dockerd, registry, moto,
# mlflow) start lazily inside the pytest session (tests/testbed).
#
# Idempotent and silent when everything is there. Without root nothing can be installed and the Docker engine
# cannot start: one line says so and what to run instead, and the script exits 0 so that the tests that can
# run still run (the `docker` ones then skip with that reason, or fail when CI is true).
set -euo pipefail
cd "${BASH_SOURCE[0]%/*}/../.."

if [[ $(id -u) -ne 0 ]]; then
    missing=$(bash scripts/testbed/install.sh --check)
    what="the Docker engine cannot start${missing:+ and ${missing// /, } cannot be installed}"
    echo "testbed: not root, so ${what}: the tests that need them will skip (and fail when CI=true); for the whole suite run \`sudo make test\`"
    exit 0
fi

# debootstrap first (seconds), then the base image's rootfs (about a minute, mostly downloads and dpkg in its
# chroot) side by side with apt installing the other packages: ~20 s less than one after the other.
updated=0
[[ -n $(bash scripts/testbed/install.sh --check debootstrap) ]] && updated=1
bash scripts/testbed/install.sh debootstrap
bash scripts/testbed/base-image.sh >/dev/null &
base=$!
status=0
BRANCHLINE_APT_UPDATED=$updated bash scripts/testbed/install.sh || status=$?
wait "$base" || status=$?
exit "$status"
