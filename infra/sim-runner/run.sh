#!/bin/sh
# Simulated runner listener: one job, then exit (ephemeral / JIT semantics).
set -eu
cd /home/runner

if [ -n "${ACTIONS_RUNNER_INPUT_JITCONFIG:-}" ]; then
    # Decode the JIT blob into local settings, as the real listener does; keep the secret out of argv.
    printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" | base64 -d > .runner
    unset ACTIONS_RUNNER_INPUT_JITCONFIG
elif [ ! -f .runner ]; then
    echo "run.sh: not configured: set ACTIONS_RUNNER_INPUT_JITCONFIG or run config.sh first" >&2
    exit 1
fi

setting() { sed -n "s/^$1=//p" .runner; }
url=$(setting url)
auth="runner_id=$(setting runner_id)
credential=$(setting credential)"
name=$(setting name)

post() { timeout 60 wget -q -O - --header 'Content-Type: text/plain' --post-data "$2" "$url$1"; }

post /_runner/session "$auth" > /dev/null
echo "√ Connected to GitHub as ${name:-runner}"
echo "Listening for Jobs"
while :; do
    answer=$(post /_runner/acquire "$auth") || { sleep 1; continue; }
    job=$(printf '%s\n' "$answer" | sed -n 's/^job_id=//p')
    [ -n "$job" ] || continue
    ms=$(printf '%s\n' "$answer" | sed -n 's/^duration_ms=//p')
    echo "Running job: $job"
    # Like the real listener: a shutdown signal (docker stop, an engine going down) ends the job as failed.
    usleep $(( ${ms:-0} * 1000 )) &
    work=$!
    trap 'kill $work 2>/dev/null; echo "The runner has received a shutdown signal."; post /_runner/complete "$auth
job_id=$job
conclusion=failure
machine=$(uname -m)" > /dev/null 2>&1 || true; rm -f .runner; exit 143' TERM INT
    wait $work
    trap - TERM INT
    post /_runner/complete "$auth
job_id=$job
conclusion=success
machine=$(uname -m)" > /dev/null
    echo "Job $job completed with result: Succeeded"
    # An ephemeral runner is already gone on the server side; a 401 here is expected.
    post /_runner/session/delete "$auth" > /dev/null 2>&1 || true
    rm -f .runner
    exit 0
done
