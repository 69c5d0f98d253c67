#!/bin/sh
# Simulated config.sh: trades a registration token for runner credentials (written to .runner).
set -eu
cd /home/runner
url=${ACTIONS_RUNNER_INPUT_URL:-}
token=${ACTIONS_RUNNER_INPUT_TOKEN:-}
name=${ACTIONS_RUNNER_INPUT_NAME:-$(hostname)}
labels=${ACTIONS_RUNNER_INPUT_LABELS:-}
ephemeral=${ACTIONS_RUNNER_INPUT_EPHEMERAL:-false}
# Only the flag: actions/runner reads flags' environment forms as ACTIONS_RUNNER_INPUT_<NAME> with the name
# as written (no-default-labels), so ACTIONS_RUNNER_INPUT_NO_DEFAULT_LABELS is never read.
no_default_labels=false
while [ $# -gt 0 ]; do
    case "$1" in
        --url) url=$2; shift ;;
        --token) token=$2; shift ;;
        --name) name=$2; shift ;;
        --labels) labels=$2; shift ;;
        --ephemeral) ephemeral=true ;;
        --no-default-labels) no_default_labels=true ;;
        --unattended|--disableupdate|--replace) ;;
        --work|--runnergroup) shift ;;
        *) echo "config.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$url" ] && [ -n "$token" ] || { echo "config.sh: --url and --token are required" >&2; exit 2; }

base=$(printf '%s' "$url" | sed 's#^\(https*://[^/]*\).*#\1#')
answer=$(timeout 30 wget -q -O - --header 'Content-Type: text/plain' --post-data "url=$url
token=$token
name=$name
labels=$labels
ephemeral=$ephemeral
no_default_labels=$no_default_labels" "$base/_runner/register") || { echo "config.sh: registration failed" >&2; exit 1; }
unset ACTIONS_RUNNER_INPUT_TOKEN
{ echo "url=$base"; printf '%s\n' "$answer"; } > .runner
echo "√ Runner successfully added"
echo "√ Settings Saved."
