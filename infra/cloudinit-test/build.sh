#!/usr/bin/env bash
# Builds runnerfleet/cloudinit-debian:bookworm, a Debian 12 system made only from Debian's packages
# (debootstrap) with cloud-init, iptables, curl and busybox: the tests run RunnerFleet's Hetzner user data
# in it through cloud-init's own NoCloud datasource, as a server's first boot would (Category=CloudInit).
# No systemd runs in a container, so two shims stand in for what only a booted machine has:
#   /usr/local/sbin/poweroff  records the power-off in /run/runnerfleet-poweroff and stops the container;
#   /usr/local/bin/usleep     the simulated runner's sleep (busybox), which Debian's coreutils lack.
# Idempotent: skips the build when the image exists. Needs root, a running Docker engine and Debian's archive.
set -euo pipefail
tag=runnerfleet/cloudinit-debian:bookworm
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "Image $tag exists"
    exit 0
fi

command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d)
cleanup() { umount "$root/proc" 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT
echo "Building $tag with debootstrap from $mirror (a few minutes) ..."
# The base system first, then the packages with apt inside it (debootstrap's own --include cannot order
# cloud-init's Python dependencies while it configures the base).
debootstrap --variant=minbase bookworm "$root" "$mirror" > /tmp/runnerfleet-debootstrap.log 2>&1 \
    || { echo "debootstrap failed; see /tmp/runnerfleet-debootstrap.log" >&2; exit 1; }
mount -t proc proc "$root/proc"
chroot "$root" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    cloud-init iptables curl ca-certificates busybox wget procps util-linux' >> /tmp/runnerfleet-debootstrap.log 2>&1 \
    || { echo "installing cloud-init in the Debian system failed; see /tmp/runnerfleet-debootstrap.log" >&2; exit 1; }
umount "$root/proc"

cat > "$root/usr/local/sbin/poweroff" <<'SHIM'
#!/bin/sh
# A container has no init to power off: record it, then end the container (PID 1 is cloud-init's runner shell).
date -u +%FT%TZ > /run/runnerfleet-poweroff
kill -TERM 1 2>/dev/null || true
exit 0
SHIM
chmod 755 "$root/usr/local/sbin/poweroff"
ln -sf /bin/busybox "$root/usr/local/bin/usleep"
# The NoCloud seed is mounted at run time; only this datasource is looked at.
printf 'datasource_list: [ NoCloud, None ]\n' > "$root/etc/cloud/cloud.cfg.d/90-runnerfleet-test.cfg"
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*

tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "Built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
