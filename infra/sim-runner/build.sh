#!/usr/bin/env bash
# Builds the simulated runner image from local files: Debian's busybox-static and the scripts here.
#   build.sh            → runnerfleet/sim-runner:latest (this machine's architecture)
#   build.sh arm64      → runnerfleet/sim-runner:arm64  (needs busybox-static:arm64; scripts/prepare.sh fetches it)
# Needs a running Docker engine; pulls nothing. (busybox 1.35 static wget crashes on -T, so the scripts use timeout.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
arch=${1:-native}
case "$arch" in
    native) tag=runnerfleet/sim-runner:latest; busybox=${BUSYBOX:-/bin/busybox}; platform= ;;
    arm64) tag=runnerfleet/sim-runner:arm64; busybox=${BUSYBOX_ARM64:-/var/cache/runnerfleet/busybox-arm64/bin/busybox}; platform=linux/arm64 ;;
    *) echo "build.sh: unknown architecture '$arch' (native or arm64)" >&2; exit 2 ;;
esac

if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    echo "build.sh: $busybox is not a static busybox; run scripts/prepare.sh (or apt-get install -y busybox-static)" >&2
    exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root="$ctx/root"
mkdir -p "$root/bin" "$root/tmp" "$root/home/runner"
cp "$busybox" "$root/bin/busybox"
# Applet names come from the host's busybox: same Debian version, same applets.
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
install -m 755 "$here/run.sh" "$here/config.sh" "$root/home/runner/"
chmod 1777 "$root/tmp"
chown -R 1001:1001 "$root/home/runner"
tar --numeric-owner -C "$root" -cf "$ctx/rootfs.tar" .
cp "$here/Dockerfile" "$ctx/"
echo "Building $tag from $busybox ..."
DOCKER_BUILDKIT=0 docker build -q ${platform:+--platform "$platform"} -t "$tag" "$ctx" >/dev/null
echo "Built $tag ($(docker image inspect -f '{{.Architecture}}, {{.Size}} bytes' "$tag"))"
