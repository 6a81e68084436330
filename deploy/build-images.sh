#!/bin/sh
# Build every image compose.yaml uses, from the local Debian base (made once if missing).
# podman's layer cache makes a second run quick. `make image` and the deploy test call this.
set -eu
cd "$(dirname "$0")/.."
PODMAN=${PODMAN:-podman}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/containers.conf}"
HOST_CA=/etc/ssl/certs/ca-certificates.crt
set -- --pull=never --network=host
# pip and npm inside the build trust the host's CA bundle (a TLS-intercepting proxy, if any).
if [ -f "$HOST_CA" ]; then
    set -- "$@" -v "$HOST_CA:/host-ca.crt:ro" --build-arg PIP_CERT=/host-ca.crt
fi
PODMAN=$PODMAN sh deploy/base-image.sh
$PODMAN build "$@" -t localhost/pasar:latest .
for service in postgres redis nginx; do
    $PODMAN build "$@" -t "localhost/pasar-$service:latest" "deploy/$service"
done
