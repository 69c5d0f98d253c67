#!/bin/sh
# RunnerFleet's pre-job hook. actions/runner runs the script named by ACTIONS_RUNNER_HOOK_JOB_STARTED before
# the job's first step, as the runner user, with the job's default environment; a non-zero exit fails the
# job and none of its steps run ("Running scripts before or after a job", docs.github.com/en/actions/
# hosting-your-own-runners/managing-self-hosted-runners/running-scripts-before-or-after-a-job).
#
# It refuses pull_request* jobs whose code comes from a fork of a public repository (or from a fork since
# deleted) unless this runner's pool allows them. The pool's decision is read from a root-owned file the
# provider writes (/etc/runnerfleet/runner.conf), never from the environment (the runner's environment is the
# operator's, but a file cannot be shadowed by anything a job sets), and GITHUB_* variables cannot be
# overridden by a workflow (docs: "Variables"), so the event name and payload path are trusted. Anything it
# cannot read or decide is refused (fail closed).
# POSIX sh and awk only: it runs on Ubuntu (dash, mawk), Debian and busybox alike.
set -u
# A workflow's env could name other programs: only the system's.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
conf=/etc/runnerfleet/runner.conf

refuse() {
    echo "::error title=RunnerFleet refused this job::$1"
    echo "RunnerFleet: job refused before its first step: $1" >&2
    # A failed hook alone does not stop the job: actions/runner still runs steps whose `if:` is always() or
    # failure() (actions/runner#2811), and a fork's pull request writes its own workflow. So the job's worker
    # (our parent chain's Runner.Worker) is killed: the job fails and no step runs; the ephemeral runner ends.
    p=$PPID
    while [ "${p:-0}" -gt 1 ]; do
        if [ "$(cat /proc/$p/comm 2>/dev/null)" = Runner.Worker ]; then
            kill -KILL "$p" 2>/dev/null || true
            break
        fi
        p=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$p/status 2>/dev/null)
    done
    exit 1
}

case "${GITHUB_EVENT_NAME:-}" in
    pull_request|pull_request_*) ;;
    "") refuse "GITHUB_EVENT_NAME is not set; the job's origin cannot be checked" ;;
    *) exit 0 ;;
esac

allow=
[ -r "$conf" ] && allow=$(sed -n 's/^allow_fork_pull_requests=//p' "$conf" | tail -n 1)
[ "$allow" = true ] && exit 0

[ -r "${GITHUB_EVENT_PATH:-}" ] || refuse "the event payload (GITHUB_EVENT_PATH) cannot be read"

# Flattens the JSON payload and prints the three facts that decide, one per line: the repository's
# full_name, its private flag, the pull request head repository's full_name ("null" for a deleted fork).
facts=$(awk '
function fail(m) { if (!failed) print "error: " m; failed = 1; i = n + 1 }
function ws() { while (i <= n && index(" \t\r\n", substr(s, i, 1)) > 0) i++ }
function str(   out, j, c, e) {
    i++; out = ""
    while (i <= n) {
        j = i
        while (j <= n) { c = substr(s, j, 1); if (c == "\"" || c == "\\") break; j++ }
        out = out substr(s, i, j - i); i = j
        if (i > n) break
        if (c == "\"") { i++; return out }
        e = substr(s, i + 1, 1)
        if (e == "u") { out = out "?"; i += 6 } else { out = out (e == "n" ? "\n" : e == "t" ? "\t" : e); i += 2 }
    }
    fail("unterminated string"); return ""
}
function keep(path, v) { if (path in want) got[path] = v }
function val(path, depth,   c, k, t, idx) {
    if (failed) return
    if (depth > 64) { fail("nested too deep"); return }
    ws(); c = substr(s, i, 1)
    if (c == "{") {
        i++; ws()
        if (substr(s, i, 1) == "}") { i++; return }
        while (!failed) {
            ws(); if (substr(s, i, 1) != "\"") { fail("object key expected"); return }
            k = str(); ws()
            if (substr(s, i, 1) != ":") { fail("colon expected"); return }
            i++; val(path == "" ? k : path "." k, depth + 1); ws()
            c = substr(s, i, 1); i++
            if (c == "}") return
            if (c != ",") { fail("comma expected in object"); return }
        }
        return
    }
    if (c == "[") {
        i++; ws()
        if (substr(s, i, 1) == "]") { i++; return }
        idx = 0
        while (!failed) {
            val(path "[" idx "]", depth + 1); idx++; ws()
            c = substr(s, i, 1); i++
            if (c == "]") return
            if (c != ",") { fail("comma expected in array"); return }
        }
        return
    }
    if (c == "\"") { t = str(); keep(path, t); return }
    t = ""
    while (i <= n && index(",]}: \t\r\n", substr(s, i, 1)) == 0) { t = t substr(s, i, 1); i++ }
    if (t == "") { fail("value expected"); return }
    keep(path, t)
}
BEGIN { want["repository.full_name"]; want["repository.private"]; want["pull_request.head.repo"]; want["pull_request.head.repo.full_name"] }
{ s = s $0 "\n" }
END {
    n = length(s); i = 1
    val("", 0); ws()
    if (!failed && i <= n) fail("trailing data")
    if (failed) exit 0
    print "repo=" got["repository.full_name"]
    print "private=" got["repository.private"]
    print "head=" (("pull_request.head.repo.full_name" in got) ? got["pull_request.head.repo.full_name"] : ("pull_request.head.repo" in got) ? got["pull_request.head.repo"] : "missing")
}' "$GITHUB_EVENT_PATH") || refuse "the event payload could not be parsed"

case "$facts" in error:*|"") refuse "the event payload could not be parsed (${facts#error: })" ;; esac
fact() { printf '%s\n' "$facts" | sed -n "s/^$1=//p"; }
repo=$(fact repo)
private=$(fact private)
head=$(fact head)

[ -n "$repo" ] || refuse "the event payload names no repository"
[ "$private" = true ] && exit 0
[ "$private" = false ] || refuse "the event payload does not say whether $repo is private"
[ "$head" = missing ] && refuse "the $GITHUB_EVENT_NAME payload names no head repository"
lower() { printf '%s' "$1" | tr 'A-Z' 'a-z'; }
[ "$head" != null ] && [ "$(lower "$head")" = "$(lower "$repo")" ] && exit 0
[ "$head" = null ] && head="(deleted)"
refuse "$GITHUB_EVENT_NAME from fork $head of public repository $repo; this runner's pool does not allow fork pull requests (AllowForkPullRequests is off)"
