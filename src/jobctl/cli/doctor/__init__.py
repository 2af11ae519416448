"""``jobctl doctor``: check a live API against the protocol and the pattern's anti-patterns.

``run`` sends the checks of ``checks.py`` in order, with one ``Probe``, and
cancels the doctor's own jobs at the end. docs/doctor.md describes every check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .checks import CHECKS, Check, Doctor
from .probe import Probe, Unreachable
from .report import plain_lines

__all__ = ["CHECKS", "Check", "Probe", "Unreachable", "plain_lines", "run"]


def run(
    probe: Probe,
    *,
    job_type: str,
    job_input: Any,
    second_token: str | None = None,
    only: Sequence[str] = (),
) -> list[Check]:
    """Run the checks (all, or those named) and return their verdicts.

    Args:
        probe: the HTTP probe for the API.
        job_type: the type of the doctor's jobs.
        job_input: their input.
        second_token: another user's token, for the ownership check.
        only: check names to run (empty: all).

    Raises:
        Unreachable: the API gave no answer (nothing is cleaned up then: there is
            nobody to ask).
    """
    doctor = Doctor(probe, job_type, job_input, second_token)
    verdicts: list[Check] = []
    for name, clause, check in CHECKS:
        if only and name not in only:
            continue
        verdict = Check(name, clause)
        before = probe.sent
        check(doctor, verdict)
        verdict.requests = probe.sent - before
        verdicts.append(verdict)
    doctor.clean_up()
    return verdicts
