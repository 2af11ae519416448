"""``--dotenv FILE``: ``KEY=VALUE`` lines for GitLab's ``artifacts:reports:dotenv``.

GitLab reads the file line by line as ``KEY=VALUE`` (the key up to the first
``=``, both sides stripped of blanks), with no quoting, no escapes, no comments,
no blank lines and no multi-line values, at most 5 KB and a limited number of
variables, and refuses the whole file when one line breaks a rule. So jobctl
writes only these keys:

- ``JOBCTL_EXIT_CODE``: the command's exit code;
- one job: ``JOBCTL_JOB_ID``, ``JOBCTL_STATUS``, ``JOBCTL_RESULT_PATH`` when a
  result was saved, and ``JOBCTL_RESUME_TOKEN`` for an operation of any API;
- several jobs: ``JOBCTL_JOB_IDS`` and ``JOBCTL_STATUSES``, space-separated in the
  order given (left out, with a warning, when they would pass 5 KB).

Every value goes through ``text.clean``, so none holds a control character or a
line break (a path with one would read escaped, ``\n``); GitLab strips blanks at
a value's ends.
"""

from __future__ import annotations

from ..text import clean
from .records import CiRun

__all__ = ["DOTENV_LIMIT", "dotenv_text"]

DOTENV_LIMIT = 5 * 1024
"""GitLab's limit for a dotenv report (the file must be smaller)."""


def dotenv_text(run: CiRun) -> tuple[str, list[str]]:
    """The file's text, and warnings about what was left out.

    Args:
        run: what the command reports.
    """
    known = [job for job in run.jobs if job.job_id is not None]
    pairs: list[tuple[str, str]] = [("JOBCTL_EXIT_CODE", str(run.exit_code))]
    warnings: list[str] = []
    if len(run.jobs) == 1 and known:
        job = known[0]
        pairs.append(("JOBCTL_JOB_ID", clean(job.job_id or "")))
        pairs.append(("JOBCTL_STATUS", clean(job.status)))
        if job.result_path is not None:
            pairs.append(("JOBCTL_RESULT_PATH", clean(job.result_path)))
        if job.resume_token is not None:
            pairs.append(("JOBCTL_RESUME_TOKEN", clean(job.resume_token)))
    elif len(run.jobs) > 1:
        lists = [
            ("JOBCTL_JOB_IDS", " ".join(clean(job.job_id or "") for job in known)),
            ("JOBCTL_STATUSES", " ".join(clean(job.status) for job in known)),
        ]
        size = sum(len(f"{k}={v}\n".encode()) for k, v in pairs + lists)
        if size < DOTENV_LIMIT:
            pairs += lists
        else:
            warnings.append(
                f"the ids and statuses of {len(known)} jobs would pass GitLab's 5 KB dotenv "
                "limit: JOBCTL_JOB_IDS and JOBCTL_STATUSES left out (the JUnit report has them)"
            )
    return "".join(f"{key}={value}\n" for key, value in pairs), warnings
