#!/usr/bin/env bash
# Build (once) and import the test bed's base image `branchline-base:bookworm`.
#
# No image can be pulled here, so the base image is a Debian rootfs made by debootstrap and turned into an
# image with `docker import`. The rootfs tarball is cached on disk, keyed by suite + variant + package list,
# so only the first run on a machine pays for debootstrap (~1 min); later runs only `docker import` it.
# The Debian mirror is read from this machine's apt configuration at run time (never written in the repo).
#
# Usage: DOCKER_HOST=unix:///path/docker.sock base-image.sh      (prints the image tag on success)
#        base-image.sh      (no DOCKER_HOST: only the cached rootfs tarball, as `make test` does; prints its path)
# Env:   BRANCHLINE_TESTBED_CACHE  cache directory (default $BRANCHLINE_TESTBED_DIR/cache, /var/tmp/branchline-testbed/cache)
#        BRANCHLINE_BASE_TAG       image tag (default branchline-base:bookworm)
set -euo pipefail

SUITE=bookworm
VARIANT=minbase
INCLUDE=python3,python3-venv,python3-pip,ca-certificates
TAG=${BRANCHLINE_BASE_TAG:-branchline-base:bookworm}
CACHE=${BRANCHLINE_TESTBED_CACHE:-${BRANCHLINE_TESTBED_DIR:-/var/tmp/branchline-testbed}/cache}
DOCKER=${DOCKER:-/usr/bin/docker}

fail() { echo "testbed: base image: $*" >&2; exit 1; }

# Remove a (possibly half-built) rootfs: unmount what debootstrap may have left mounted in it (proc, sys...)
# first, and never let rm cross into another filesystem.
remove_rootfs() {
    local dir=$1 mnt
    [[ -n "$dir" && -d "$dir" ]] || return 0
    while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "$dir"
}

# The first `URIs:` of a deb822 stanza whose Suites include $SUITE, else the first matching one-line entry.
debian_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        awk -v suite="$SUITE" '
            /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri=""; ok=0; next }
            /^URIs:/   { uri=$2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok=1 }
            END        { if (uri != "" && ok) print uri }
        ' "$f" | head -n1
    done | head -n1
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r "$f" ]] || continue
        awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == suite) { print $(i-1); exit } }' "$f"
    done | head -n1
}

key=$(printf '%s\n' "$SUITE" "$VARIANT" "$INCLUDE" | sha256sum | cut -c1-12)
tarball="$CACHE/base-$SUITE-$key.tar"
mkdir -p "$CACHE"

if [[ ! -s "$tarball" ]]; then
    exec 9>"$CACHE/base-$SUITE.lock"
    flock 9  # another run may be building the same tarball: wait for it
    if [[ ! -s "$tarball" ]]; then
        command -v debootstrap >/dev/null || fail "debootstrap is not installed: run \`sudo make testbed\`"
        [[ $(id -u) -eq 0 ]] || fail "debootstrap needs root to build the base image"
        mirror=$(debian_mirror | head -n1)
        [[ -n "$mirror" ]] || fail "no Debian mirror for '$SUITE' in /etc/apt/sources.list{,.d/}: cannot build the base image"
        echo "testbed: building the base image with debootstrap (once per machine, about a minute)" >&2
        root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
        trap 'remove_rootfs "$root"; rm -f "$tarball.tmp"' EXIT
        start=$SECONDS
        if ! debootstrap --variant="$VARIANT" --include="$INCLUDE" "$SUITE" "$root" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
            tail -n 30 "$CACHE/debootstrap.log" >&2
            fail "debootstrap failed (full log: $CACHE/debootstrap.log)"
        fi
        # Smaller image: apt lists and caches are not needed to run Python.
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        echo "testbed: base image built in $((SECONDS - start)) s ($tarball)" >&2
    fi
    exec 9>&-
fi

if [[ -n "${DOCKER_HOST:-}" ]]; then
    if ! "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
        "$DOCKER" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' "$tarball" "$TAG" >/dev/null \
            || fail "docker import of $tarball failed"
    fi
    echo "$TAG"
else
    echo "$tarball"
fi
