#!/usr/bin/env bash
# Builds runnerfleet/sim-runner:latest from local files: Debian's busybox-static and the scripts here.
# Needs a running Docker engine; pulls nothing. (busybox 1.35 static wget crashes on -T, so the scripts use timeout.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tag=${1:-runnerfleet/sim-runner:latest}
busybox=${BUSYBOX:-/bin/busybox}

if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    echo "build.sh: $busybox is not a static busybox; install it with: apt-get install -y busybox-static" >&2
    exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$busybox" "$ctx/busybox"
cp "$here/Dockerfile" "$here/run.sh" "$here/config.sh" "$ctx/"
chmod 755 "$ctx/run.sh" "$ctx/config.sh"
echo "Building $tag from $busybox ..."
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx"
echo "Built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
