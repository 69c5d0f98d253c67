#!/usr/bin/env bash
# Builds the QEMU test guests from Debian's packages only (nothing downloaded from anywhere else):
#   build.sh [x86_64|aarch64 ...] [--out DIR]     default: both, into /var/cache/runnerfleet/qemu
# For each architecture, DIR/ARCH/ holds:
#   vmlinuz     Debian's cloud kernel (linux-image-cloud-{amd64,arm64})
#   initrd      a busybox initramfs: Debian's busybox-static for the architecture, the virtio and firmware-config
#               modules of that kernel, and ./init (network, base disk, runner settings from the firmware config)
#   disk.raw    the base disk (ext4): the simulated runner (infra/sim-runner/run.sh, config.sh); VMs run on an
#               overlay of it and never change it
# A production image is an Ubuntu cloud image with actions/runner: see README, "QEMU VMs".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=/var/cache/runnerfleet/qemu
arches=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift ;;
        x86_64|aarch64) arches+=("$1") ;;
        *) echo "build.sh: unknown argument '$1' (x86_64, aarch64, --out DIR)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#arches[@]} -gt 0 ] || arches=(x86_64 aarch64)
export DEBIAN_FRONTEND=noninteractive
for tool in cpio mke2fs; do
    command -v "$tool" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq cpio e2fsprogs >/dev/null; }
done

for arch in "${arches[@]}"; do
    case "$arch" in x86_64) deb=amd64 ;; aarch64) deb=arm64 ;; esac
    dest="$out/$arch"
    if [ -s "$dest/vmlinuz" ] && [ -s "$dest/initrd" ] && [ -s "$dest/disk.raw" ] && [ "$dest/initrd" -nt "$here/init" ]; then
        echo "build.sh: $dest is ready"
        continue
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    chmod 777 "$work"
    if [ "$deb" != "$(dpkg --print-architecture)" ] && ! dpkg --print-foreign-architectures | grep -qx "$deb"; then
        dpkg --add-architecture "$deb"
    fi
    apt-get update -qq
    kernel=$(apt-cache depends "linux-image-cloud-$deb:$deb" | sed -n 's/.*Depends: \(linux-image-[^ :]*\).*/\1/p' | head -1)
    [ -n "$kernel" ] || { echo "build.sh: Debian offers no linux-image-cloud-$deb" >&2; exit 1; }
    echo "build.sh: $arch guest from $kernel and busybox-static:$deb ..."
    (cd "$work" && apt-get download -qq "$kernel:$deb" "busybox-static:$deb")
    mkdir -p "$work/k" "$work/b" "$work/initrd/bin" "$work/initrd/lib/modules" "$work/disk"
    dpkg-deb -x "$work"/linux-image-*.deb "$work/k"
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/b"
    mkdir -p "$dest"
    cp "$work"/k/boot/vmlinuz-* "$dest/vmlinuz.new"

    root="$work/initrd"
    cp "$work/b/bin/busybox" "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio virtio_blk failover net_failover virtio_net qemu_fw_cfg; do
        f=$(find "$work"/k/lib/modules -name "$m.ko" | head -1)
        [ -n "$f" ] && cp "$f" "$root/lib/modules/"
    done
    mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/etc" "$root/home/runner"
    install -m 755 "$here/init" "$root/init"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$dest/initrd.new"

    install -m 755 "$here/../sim-runner/run.sh" "$here/../sim-runner/config.sh" "$work/disk/"
    rm -f "$dest/disk.raw.new"
    mke2fs -q -t ext4 -L runnerfleet -d "$work/disk" "$dest/disk.raw.new" 16M
    mv "$dest/vmlinuz.new" "$dest/vmlinuz"
    mv "$dest/disk.raw.new" "$dest/disk.raw"
    mv "$dest/initrd.new" "$dest/initrd"
    rm -rf "$work"
    trap - EXIT
    echo "build.sh: $dest: $(du -sh "$dest" | cut -f1) (vmlinuz, initrd, disk.raw)"
done
