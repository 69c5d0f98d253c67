#!/usr/bin/env bash
# Makes this machine ready for the full test suite: Debian's Docker engine and static busybox, a running
# engine, and the simulated runner image. Idempotent; run as root (or with sudo) on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need+=(busybox-static)
command -v file >/dev/null 2>&1 || need+=(file)
if [ ${#need[@]} -gt 0 ]; then
    echo "prepare: installing ${need[*]} from Debian ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
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
echo "prepare: Docker engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

bash infra/sim-runner/build.sh
