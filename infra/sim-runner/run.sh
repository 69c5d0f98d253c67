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
complete() {
    post /_runner/complete "$auth
job_id=$job
conclusion=$1
steps=$2
machine=$(uname -m)" > /dev/null
}

post /_runner/session "$auth" > /dev/null
echo "√ Connected to GitHub as ${name:-runner}"
echo "Listening for Jobs"
while :; do
    answer=$(post /_runner/acquire "$auth") || { sleep 1; continue; }
    job=$(printf '%s\n' "$answer" | sed -n 's/^job_id=//p')
    [ -n "$job" ] || continue
    ms=$(printf '%s\n' "$answer" | sed -n 's/^duration_ms=//p')
    echo "Running job: $job"
    # Like the real listener: a shutdown signal (docker stop, an engine going down) from here on ends the job as
    # failed, also while the job-started hook runs (a shell runs the trap once its foreground command returns).
    work=
    steps=skipped
    trap 'if [ -n "$work" ]; then kill $work 2>/dev/null; fi; echo "The runner has received a shutdown signal."; complete failure $steps > /dev/null 2>&1 || true; rm -f .runner; exit 143' TERM INT

    # The job's github context, as actions/runner lays it out: the event payload in
    # _work/_temp/_github_workflow/event.json, named by GITHUB_EVENT_PATH.
    mkdir -p _work/_temp/_github_workflow
    printf '%s\n' "$answer" | sed -n 's/^event=//p' | base64 -d > _work/_temp/_github_workflow/event.json
    # actions/runner runs ACTIONS_RUNNER_HOOK_JOB_STARTED before the first step with the job's default
    # environment; a non-zero exit fails the job and no step runs (docs: "Running scripts before or after a job").
    if [ -n "${ACTIONS_RUNNER_HOOK_JOB_STARTED:-}" ]; then
        echo "A job started hook has been configured by the self-hosted runner administrator"
        if ! GITHUB_EVENT_PATH=$PWD/_work/_temp/_github_workflow/event.json \
             GITHUB_EVENT_NAME=$(printf '%s\n' "$answer" | sed -n 's/^event_name=//p') \
             GITHUB_REPOSITORY=$(printf '%s\n' "$answer" | sed -n 's/^repository=//p') \
             GITHUB_JOB=$job \
             sh -e "$ACTIONS_RUNNER_HOOK_JOB_STARTED"; then
            echo "Job $job completed with result: Failed (the job started hook failed; no step ran)"
            complete failure skipped
            post /_runner/session/delete "$auth" > /dev/null 2>&1 || true
            rm -f .runner
            exit 0
        fi
    fi

    steps=ran
    usleep $(( ${ms:-0} * 1000 )) &
    work=$!
    wait $work
    trap - TERM INT
    complete success ran
    echo "Job $job completed with result: Succeeded"
    # An ephemeral runner is already gone on the server side; a 401 here is expected.
    post /_runner/session/delete "$auth" > /dev/null 2>&1 || true
    rm -f .runner
    exit 0
done
