#!/usr/bin/env bash
# Makes this machine ready for the full test suite: Debian's Docker engine, static busybox (native and
# arm64), QEMU user-mode emulation through binfmt_misc, headless Chromium (the status-page test), a running
# engine, and the simulated runner images. Idempotent; run as root (or with sudo) on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need+=(busybox-static)
command -v file >/dev/null 2>&1 || need+=(file)
[ -e /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null 2>&1 || need+=(binfmt-support)
[ -x /usr/bin/chromium ] || need+=(chromium)   # the status-page browser test (Category=Browser)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)   # the PostgreSQL store tests
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)   # the QEMU VM provider (Category=VM)
command -v qemu-system-aarch64 >/dev/null 2>&1 || need+=(qemu-system-arm)
command -v cpio >/dev/null 2>&1 || need+=(cpio)   # the VM test guests' initramfs
command -v mke2fs >/dev/null 2>&1 || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
    echo "prepare: installing ${need[*]} from Debian ..."
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The arm64 busybox for the emulated runner image: Debian's own package, unpacked (not installed).
arm64_dir=/var/cache/runnerfleet/busybox-arm64
if [ ! -x "$arm64_dir/bin/busybox" ]; then
    echo "prepare: fetching busybox-static:arm64 from Debian ..."
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    apt-get update -qq
    tmp=$(mktemp -d)
    (cd "$tmp" && chmod 777 . && apt-get download -qq busybox-static:arm64)
    mkdir -p "$arm64_dir"
    dpkg-deb -x "$tmp"/busybox-static_*_arm64.deb "$arm64_dir"
    rm -rf "$tmp"
fi

# QEMU user-mode emulation for arm64 containers (the F flag lets containers use the host's interpreter).
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 || true
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    echo "prepare: arm64 emulation on (binfmt_misc qemu-aarch64)"
else
    echo "prepare: WARNING: arm64 emulation is not available; emulation tests will fail" >&2
fi

if ! docker info >/dev/null 2>&1; then
    echo "prepare: starting the Docker engine ..."
    nohup dockerd >/tmp/runnerfleet-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { echo "prepare: dockerd did not come up; see /tmp/runnerfleet-dockerd.log" >&2; exit 1; }
fi

# PostgreSQL (Debian's cluster) with a role and database for the store tests; scripts/test.sh points the
# tests at it through RUNNERFLEET_TEST_POSTGRES.
read -r pg_version pg_cluster _ < <(pg_lsclusters -h | head -1)
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    echo "prepare: starting PostgreSQL ${pg_version}/${pg_cluster} ..."
    pg_ctlcluster "$pg_version" "$pg_cluster" start
fi
for _ in $(seq 1 30); do su postgres -c "psql -qtAc 'SELECT 1'" >/dev/null 2>&1 && break; sleep 1; done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='runnerfleet'\"" | grep -q 1 \
    || su postgres -c "psql -qc \"CREATE ROLE runnerfleet LOGIN PASSWORD 'runnerfleet'\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='runnerfleet_test'\"" | grep -q 1 \
    || su postgres -c "createdb -O runnerfleet runnerfleet_test"
echo "prepare: PostgreSQL ${pg_version} ready (database runnerfleet_test)"

echo "prepare: Docker engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

bash infra/sim-runner/build.sh
bash infra/sim-runner/build.sh arm64
bash infra/cloudinit-test/build.sh
# The QEMU test guests (x86_64 and aarch64): Debian's cloud kernels and busybox, in /var/cache/runnerfleet/qemu.
bash infra/qemu-guest/build.sh
