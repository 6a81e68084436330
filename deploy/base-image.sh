#!/bin/sh
# Make the Debian base image locally, once: no image registry is needed (or reachable here).
# debootstrap a minimal bookworm and import it under the official image's name, so every
# Dockerfile can say FROM debian:bookworm-slim. Skipped when podman already has that image.
set -eu
IMAGE=${BASE_IMAGE:-docker.io/library/debian:bookworm-slim}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PODMAN=${PODMAN:-podman}

if $PODMAN image exists "$IMAGE"; then
    echo "base image $IMAGE: already present"
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "apt-get install debootstrap" >&2; exit 1; }
ROOT=$(mktemp -d /var/tmp/pasar-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR"
# Like the official slim image: no apt caches or docs.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
tar -C "$ROOT" -c . | $PODMAN import - "$IMAGE"
echo "base image $IMAGE: imported"
