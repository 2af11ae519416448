"""Generate ``docs/cli.md`` from the app itself, so the reference never drifts from the code.

``python -m jobctl.cli.docs`` prints the Markdown; ``--write PATH`` writes it (a
test regenerates it and fails when the committed file differs). The page lists
the global options, then every command with its usage line, help text,
arguments and options, taken from the click command tree.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "render_markdown"]

_INTRO = """\
# jobctl command-line reference

Generated from the code by `python -m jobctl.cli.docs --write docs/cli.md`; a
test fails when this page and the code disagree. Scripts may rely on the
commands, flags, exit codes and streams described here: they only ever grow.

Global options may come before or after the command (`jobctl --json status ID`
and `jobctl status ID --json` are the same). Precedence: flag > environment >
profile in the config file > default. `JOB` is a job id, a status URL, or
`--last` (the newest job in the local ledger of submitted jobs).

## Exit codes

| code | meaning |
| --- | --- |
| 0 | success: the job completed (or, without `--wait`, was accepted) |
| 1 | an unexpected error inside jobctl |
| 2 | usage error: bad flags, bad input JSON, unknown profile, an existing different `-o` file |
| 3 | the job ended `failed` (also: `webhook verify` found the delivery invalid) |
| 4 | authentication refused (401/403) |
| 5 | the job ended `cancelled` |
| 6 | not found: no such job, or the result expired (404/410) |
| 7 | `--timeout` ran out while the job is still running |
| 8 | the service is unavailable after retries (network errors, 5xx, 429, a broken answer) |
| 9 | the request was refused for another reason (400/409/413/422) |
| 10 | a local problem, named in the line: a file can't be written here, the disk is full |
| 130 / 143 | Ctrl-C / SIGTERM; the job keeps running unless `--cancel-on-interrupt` |

Several jobs: the worst outcome wins, in the order
143 > 130 > 1 > 2 > 10 > 8 > 4 > 6 > 9 > 7 > 3 > 5 > 0.
`status` exits 0 whatever the job's state (it only looks); `cancel` exits 0 when
the job ends up cancelled (that is what was asked).

## Streams and progress

stdout carries only results: a job id (`submit`, `retry`), `ID STATUS` lines
(`wait`, `cancel`), a job summary (`status`), events (`events`), a path
(`result`, `demo`), or result bytes with `-o -`. With `--json` it carries exactly
one JSON document (a job, or a list of jobs for several), or JSON lines for
`events`. Hints ("follow it with: jobctl wait ID"), progress, warnings and errors
go to stderr; every error is one line starting with `error:`.

`--progress auto` draws a live bar per job on a terminal (the job's type and
id, current/total, status, elapsed time, ETA, and the server's message, or for
a failed or cancelled job its error code and reason; byte counts read
`95.4/190.7 MiB` with a speed) and plain lines elsewhere, also when `CI` is set
or `TERM=dumb`: `2026-11-27T18:30:01Z ID processing 3/10 (30%) page 3 [12s]`,
at most one a second per job, and a `still ...` heartbeat after 25 silent
seconds. With more jobs than the terminal has lines, the live view shows a
summary line (jobs per state) and the most recently changed jobs; it redraws at
most 10 times a second and costs the same per job for 10 jobs or 1,000. No
carriage returns or ANSI codes off a terminal; `NO_COLOR` is honoured. Text
from the server (messages, ids, statuses, event names, file names) is shown
with control and bidi characters escaped (`\\x1b`, `\\r\\n`, `\\u202e`), on a
terminal and off it; `--json` output is JSON.

## Files

- Config: TOML at `platformdirs.user_config_dir("jobctl")/config.toml`
  (`JOBCTL_CONFIG` overrides it), written with mode 0600. Top-level keys are the
  default profile; `[profiles.NAME]` tables hold named ones. Keys: `url`, `token`,
  `progress`, `timeout` (a duration; the default `--timeout` of waits).
- Ledger: `platformdirs.user_state_dir("jobctl")/jobs.jsonl` (`JOBCTL_STATE_DIR`
  overrides the directory): one line per submitted job (id, status URL, base URL,
  type, idempotency key, time; never a token). `--last` reads it.
- Downloads: the result is fetched into `.jobctl-ID.d/` beside the target (a
  broken download resumes from there on the next run) and then moved into place.
  An existing file with the same bytes counts as success; a different one is
  left alone (exit 2) unless `--force`.
- `submit` always sends an `Idempotency-Key` (yours, or one it makes): re-running
  with the same `--idempotency-key` resumes the same job, and an interrupted
  submit prints the key to re-run with.

## In CI

`--ci auto|github|gitlab|none` (env `JOBCTL_CI`) adds a CI system's own
conventions to `submit --wait`, `wait`, `call --wait` and `result`, on top of the
plain lines. An operation of any API (`call --wait`, `wait TOKEN`) is reported as a
job is: its short name as the id, `DIALECT operation` as the type, and its outcome
(`succeeded` counts as completed).
`auto` (the default) is GitHub Actions when `GITHUB_ACTIONS=true`, GitLab CI
when `GITLAB_CI=true`, else nothing; `none` turns the conventions off (an
explicit `--junit` or `--dotenv` is still written). None of it changes stdout or
the exit code: a file that can't be written at the end is a `warning:` line.
`--junit FILE` and `--dotenv FILE` are checked before anything is sent (their
directory must exist and be writable: exit 2 otherwise). Text from the server
(ids, types, statuses, error codes and messages) is escaped for each format
below, with control characters shown as `\\x1b`, `\\n` as everywhere else; the
token, passwords in `--url` and `--webhook-secret` are written as `***`.

**Groups and sections.** With plain progress (off a terminal), each followed
job's lines are held while it runs and written as one collapsible block when it
ends, titled `TYPE ID: STATUS (REASON) [DURATION]`; while jobs run, a line about
them (`waiting for 3 of 5 jobs: 2 processing, 1 pending`, or the one job's own
line) is written after 25 silent seconds. GitHub: `::group::TITLE` ...
`::endgroup::`. GitLab: `\\e[0Ksection_start:UNIX_SECONDS:jobctl_N_ID[collapsed=true]\\r\\e[0KTITLE`
... `\\e[0Ksection_end:UNIX_SECONDS:jobctl_N_ID\\r\\e[0K`, folded for jobs that
completed (these markers are the only escape sequences and carriage returns
jobctl writes off a terminal). On GitHub, `##[` in any stderr line is written
`##\\x5b`, so no server text is read as a workflow command.

**GitHub Actions** (`GITHUB_ACTIONS=true` or `--ci github`) also writes:

- an error annotation on stderr for each job that failed, was cancelled, timed
  out, could not be followed or was interrupted:
  `::error title=jobctl: TYPE ID failed::CODE: MESSAGE`. The message keeps its
  line breaks and up to 4,000 characters; `%`, CR and LF are written `%25`,
  `%0D`, `%0A`, and in the title also `:` and `,` as `%3A` and `%2C`. GitHub shows
  10 error annotations per step: past 10 such jobs, nine are annotated and a
  tenth says how many more did not complete;
- `$GITHUB_OUTPUT`, appended: `exit-code=N`; `job-ids` (a JSON array, in the
  order given), `statuses` (a JSON object, job id to status) and, when results
  were saved, `result-paths` (job id to path); for one job also `job-id`,
  `status`, `result-path`, `result-url` and, for an operation, `resume-token`.
  Every string is written in the multi-line form `NAME<<ghadelimiter_UUID` /
  value / `ghadelimiter_UUID`, with a random delimiter that does not occur in the
  value. `result-url` may be a signed
  URL: it is the one output that can grant access to the result;
- `$GITHUB_STEP_SUMMARY`, appended: a heading with the tally
  (`### ❌ jobctl wait: 1 completed, 1 failed`) and a Markdown table with one row
  per job: job, type, status, duration, result file, size, sha256, error (each
  cell at most 200 characters of server text, every ASCII punctuation character
  backslash-escaped so no cell can close a column or open a link or tag). The
  whole file is kept under 1,000 KiB, below GitHub's 1 MiB per step: rows that
  don't fit are counted in a last line. A plain `submit` (no `--wait`) writes the
  outputs, not the summary.

**GitLab CI** (`GITLAB_CI=true` or `--ci gitlab`) writes the sections above.

**`--junit FILE`** (any CI; `submit` needs `--wait` or `-o`, `call` needs `--wait`):
a JUnit XML report in the common (Surefire/Jenkins) schema, written atomically (a
temporary file renamed into place) when the command ends, also by `--timeout`,
Ctrl-C or SIGTERM: `<testsuites name="jobctl" tests failures errors time>` holding one
`<testsuite name="jobctl wait" tests failures errors skipped time timestamp>`
with one `<testcase classname="jobctl.TYPE" name="TYPE ID" time="SECONDS">` per
job. A failed job has `<failure type="CODE" message="CODE: MESSAGE">` (the whole
message inside), a cancelled one `<skipped>`, and one that timed out, could not
be followed (not found, unreachable), was never submitted, was still running
when jobctl was interrupted, or completed without its result being saved has
`<error type="timeout|not_found|unavailable|interrupted|...">` saying so. Each
case's `<system-out>` lists its id, type, status, result file, size and sha256.
`time` is the job's duration by the server's clock (created to ended), else how
long jobctl followed it. Characters XML 1.0 can't carry are
replaced by U+FFFD.

**`--dotenv FILE`** (any CI; GitLab's `artifacts:reports:dotenv`): `KEY=VALUE`
lines, written atomically: `JOBCTL_EXIT_CODE`; for one job `JOBCTL_JOB_ID`,
`JOBCTL_STATUS`, when a result was saved `JOBCTL_RESULT_PATH`, and for an
operation `JOBCTL_RESUME_TOKEN`; for several jobs `JOBCTL_JOB_IDS` and
`JOBCTL_STATUSES`, space-separated in the order given (left out, with a warning,
when they would pass GitLab's 5 KB limit). GitLab
reads no quotes or escapes, so values are written bare, on one line.
"""


def _walk(
    command: Any, ctx: Any, path: tuple[str, ...]
) -> Iterator[tuple[Any, Any, tuple[str, ...]]]:
    yield command, ctx, path
    commands = getattr(command, "commands", None) or {}
    for name in commands:
        sub = commands[name]
        if getattr(sub, "hidden", False):
            continue
        sub_ctx = sub.context_class(sub, info_name=name, parent=ctx)
        yield from _walk(sub, sub_ctx, (*path, name))


def _param_rows(command: Any, ctx: Any) -> tuple[list[str], list[str]]:
    arguments: list[str] = []
    options: list[str] = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        names, help_text = record if record else (param.human_readable_name, "")
        if param.param_type_name == "argument":
            names = re.sub(r" <[^>]*>$", "", names)
        names = names.replace("|", "\\|")
        help_text = " ".join(help_text.split()).replace("|", "\\|")
        row = f"| `{names}` | {help_text} |"
        (arguments if param.param_type_name == "argument" else options).append(row)
    return arguments, options


def _markdown(help_text: str) -> str:
    """Help text as Markdown: a paragraph click keeps as written (``\\b``) is a code block."""
    paragraphs = help_text.split("\n\n")
    return "\n\n".join(
        "```\n" + textwrap.dedent(p.removeprefix("\b\n")) + "\n```" if p.startswith("\b\n") else p
        for p in paragraphs
    )


def render_markdown() -> str:
    """The whole reference page as Markdown."""
    from .root import get_command

    root = get_command()
    root_ctx = root.context_class(root, info_name="jobctl")
    out: list[str] = [_INTRO]
    for command, ctx, path in _walk(root, root_ctx, ()):
        title = " ".join(("jobctl", *path))
        out.append(f"## `{title}`" if path else "## Global options")
        out.append("")
        pieces = re.sub(r"\{([^}]*)\}", r"\1", " ".join(command.collect_usage_pieces(ctx)))
        out.append(f"```\n{title} {pieces}\n```")
        out.append("")
        help_text = (command.help or "").strip()
        if help_text and path:
            out.append(_markdown(help_text))
            out.append("")
        arguments, options = _param_rows(command, ctx)
        if arguments:
            out += ["| argument | meaning |", "| --- | --- |", *arguments, ""]
        if options:
            out += ["| option | meaning |", "| --- | --- |", *options, ""]
        if getattr(command, "commands", None) and path:
            names = ", ".join(f"`{n}`" for n in command.commands)
            out += [f"Subcommands: {names}.", ""]
        if path == ("server",):
            out += [
                "All arguments are passed to the reference server "
                "(`python -m mock_server --help` lists them).",
                "",
            ]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the page, or write it with ``--write PATH``.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    text = render_markdown()
    if len(args) == 2 and args[0] == "--write":
        Path(args[1]).write_text(text, encoding="utf-8")
        return 0
    if args:
        sys.stderr.write("usage: python -m jobctl.cli.docs [--write PATH]\n")
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
