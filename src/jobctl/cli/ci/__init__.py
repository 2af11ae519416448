"""CI-native reporting: a CI system's own conventions on top of the plain lines.

``submit --wait``, ``wait`` and ``result`` (and any command that follows jobs the
same way) hand what they learn to a ``session.CiSession``; at the end of the
command it writes, from the same outcomes ``report_outcomes`` prints:

- GitHub Actions (``github.py``): a collapsible group per followed job, an error
  annotation per job that did not complete, step outputs in ``$GITHUB_OUTPUT`` and
  a Markdown table in ``$GITHUB_STEP_SUMMARY``;
- GitLab CI (``gitlab.py``): a collapsible section per followed job;
- any CI: a JUnit XML report (``junit.py``, ``--junit FILE``) and a dotenv file
  (``dotenv.py``, ``--dotenv FILE``).

``detect.py`` decides which system is in use (``--ci``, ``JOBCTL_CI``, then the
runner's own variables), ``records.py`` is the one record of a job all the
writers read, ``escape.py`` escapes server text for each target format, and
``groups.py`` is the progress display that wraps each job's plain lines in a
group or section. Nothing here writes to stdout or changes an exit code.
"""

from __future__ import annotations
