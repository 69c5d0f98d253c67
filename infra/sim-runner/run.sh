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
machine=$(uname -m)
output=$(if [ -f _work/output ]; then base64 < _work/output | tr -d '\n'; fi)" > /dev/null
}

post /_runner/session "$auth" > /dev/null
echo "√ Connected to GitHub as ${name:-runner}"
echo "Listening for Jobs"
# Like the real listener: a shutdown signal (docker stop, an engine going down) once a job is ours ends it as
# failed, at any point: the trap is set before the job is asked for (a shell runs it once its foreground command
# returns, so an acquire answer that arrives with the signal is still read) and covers the job-started hook.
answer=
job=
work=
steps=skipped
trap 'job=${job:-$(printf "%s\n" "$answer" | sed -n "s/^job_id=//p")}; if [ -n "$work" ]; then kill $work 2>/dev/null; fi; echo "The runner has received a shutdown signal."; if [ -n "$job" ]; then complete failure $steps > /dev/null 2>&1 || true; fi; rm -f .runner; exit 143' TERM INT
while :; do
    answer=$(post /_runner/acquire "$auth") || { sleep 1; continue; }
    job=$(printf '%s\n' "$answer" | sed -n 's/^job_id=//p')
    [ -n "$job" ] || continue
    ms=$(printf '%s\n' "$answer" | sed -n 's/^duration_ms=//p')
    echo "Running job: $job"

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
    conclusion=success
    script=$(printf '%s\n' "$answer" | sed -n 's/^script=//p')
    if [ -n "$script" ]; then
        # The job's steps (a simulator convention): a shell script, run with the job's github context; exit 0 succeeds.
        printf '%s' "$script" | base64 -d > _work/_temp/steps.sh
        GITHUB_EVENT_NAME=$(printf '%s\n' "$answer" | sed -n 's/^event_name=//p') \
        GITHUB_REPOSITORY=$(printf '%s\n' "$answer" | sed -n 's/^repository=//p') \
        GITHUB_JOB=$job \
            sh -e _work/_temp/steps.sh > _work/output 2>&1 &
        work=$!
        wait $work || conclusion=failure
    else
        usleep $(( ${ms:-0} * 1000 )) &
        work=$!
        wait $work
    fi
    trap - TERM INT
    complete $conclusion ran
    echo "Job $job completed with result: $conclusion"
    # An ephemeral runner is already gone on the server side; a 401 here is expected.
    post /_runner/session/delete "$auth" > /dev/null 2>&1 || true
    rm -f .runner
    exit 0
done
