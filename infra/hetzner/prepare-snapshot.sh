#!/usr/bin/env bash
# Turns a fresh Hetzner Cloud server (Ubuntu 24.04, x86 or arm64) into a snapshot RunnerFleet boots runners
# from in seconds: the runner and its dependencies preinstalled in /home/runner, cloud-init reset so the
# runner server's own user data runs on first boot. Run as root on the throwaway server, then snapshot it:
#   hcloud server create --name rf-prep --type cax21 --image ubuntu-24.04 --location fsn1 --ssh-key <key>
#   ssh root@<ip> 'bash -s' < infra/hetzner/prepare-snapshot.sh
#   hcloud server shutdown rf-prep && hcloud server create-image --type snapshot --description runnerfleet-arm64 \
#     --label runnerfleet.runner-version=<the version this script printed> rf-prep
#   hcloud server delete rf-prep
# Then: Fleet:Pools:N:Hetzner:Image = <snapshot id>, Fleet:Pools:N:Hetzner:PreparedImage = true. The label lets the
# controller warn when GitHub releases a newer runner (the snapshot's runner then updates itself on every boot).
set -euo pipefail
RUNNER_VERSION="${RUNNER_VERSION:-2.330.0}"
case "$(uname -m)" in aarch64) arch=arm64 ;; x86_64) arch=x64 ;; *) echo "unsupported $(uname -m)" >&2; exit 1 ;; esac

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates curl git jq unzip zip build-essential iptables >/dev/null

id runner >/dev/null 2>&1 || useradd -m -s /bin/bash runner
curl -fsSL -o /tmp/runner.tgz "https://github.com/actions/runner/releases/download/v${RUNNER_VERSION}/actions-runner-linux-${arch}-${RUNNER_VERSION}.tar.gz"
tar -xzf /tmp/runner.tgz -C /home/runner && rm -f /tmp/runner.tgz
/home/runner/bin/installdependencies.sh >/dev/null
chown -R runner:runner /home/runner

# Leave nothing of this server in the image: logs, SSH host keys, machine id, cloud-init state.
apt-get clean
rm -f /etc/ssh/ssh_host_* /root/.ssh/authorized_keys
truncate -s 0 /etc/machine-id
cloud-init clean --logs
echo "prepared: runner ${RUNNER_VERSION} (${arch}) in /home/runner; shut down and snapshot this server now"
