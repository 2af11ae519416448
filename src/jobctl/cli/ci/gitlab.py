"""GitLab CI: collapsible sections in the job log.

A section is a start line and an end line around other lines::

    \\e[0Ksection_start:UNIX_SECONDS:NAME[collapsed=true]\\r\\e[0KHEADER
    ...
    \\e[0Ksection_end:UNIX_SECONDS:NAME\\r\\e[0K

GitLab shows HEADER with the time between the two timestamps, and folds the
section when ``[collapsed=true]`` is given (jobctl folds the sections of jobs
that completed). NAME may only hold ``[a-zA-Z0-9_.-]``. These markers are the
one place jobctl writes an escape sequence or a carriage return off a terminal:
they are GitLab's own syntax, and the header (server text) is escaped with
``text.clean`` like every other line, so no server can forge one.
"""

from __future__ import annotations

import re

from ..text import clean

__all__ = ["section_end", "section_name", "section_start"]

_NOT_NAME = re.compile(r"[^a-zA-Z0-9_.-]")


def section_name(index: int, job_id: str) -> str:
    """A section name unique in this run: ``jobctl_1_<the job id's safe characters>``.

    Args:
        index: the section's number in this run.
        job_id: the job (server text: only its safe characters are kept).
    """
    return f"jobctl_{index}_{_NOT_NAME.sub('_', job_id)[:48]}"


def section_start(name: str, header: str, when: int, *, collapsed: bool) -> str:
    """The line that opens a section.

    Args:
        name: from ``section_name``.
        header: the text GitLab shows for it (raw: escaped here).
        when: unix seconds.
        collapsed: fold it by default.
    """
    options = "[collapsed=true]" if collapsed else ""
    return f"\x1b[0Ksection_start:{when}:{name}{options}\r\x1b[0K{clean(header)}"


def section_end(name: str, when: int) -> str:
    """The line that closes a section.

    Args:
        name: the name it was opened with.
        when: unix seconds.
    """
    return f"\x1b[0Ksection_end:{when}:{name}\r\x1b[0K"
