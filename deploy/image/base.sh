#!/usr/bin/env bash
# Builds a local Debian bookworm base image with Python 3.11, for machines that cannot pull
# python:3.11-slim from a registry (no registry access, only deb.debian.org).
#
#   sudo deploy/image/base.sh [TAG] [ROOTFS_DIR]
#
# TAG defaults to localhost/debian-bookworm-python:local. Needs root, debootstrap and podman.
# The image is a minbase debootstrap plus python3, python3-venv, ca-certificates and make,
# with /usr/local/bin/python pointing at python3 (python:3.11-slim has `python` on PATH).
set -euo pipefail

TAG=${1:-localhost/debian-bookworm-python:local}
ROOTFS=${2:-/var/tmp/debian-bookworm-rootfs}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ -e "$ROOTFS" ]; then
    echo "$ROOTFS exists; remove it first (rm -rf $ROOTFS)" >&2
    exit 1
fi

debootstrap --variant=minbase \
    --include=python3,python3-venv,ca-certificates,make \
    bookworm "$ROOTFS" "$MIRROR"

# Keep the image lean: apt lists and caches, docs and man pages are not needed at run time.
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*
# The sources list debootstrap wrote is kept, so `apt-get update` works inside the image.
ln -sf /usr/bin/python3 "$ROOTFS"/usr/local/bin/python

tar -C "$ROOTFS" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$TAG"

rm -rf "$ROOTFS"
podman image ls "$TAG"
