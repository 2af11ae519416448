"""The local ledger: append, newest, lookup by idempotency key, trimming, no tokens."""

from __future__ import annotations

import stat
from pathlib import Path

from jobctl.cli.ledger import Ledger, default_ledger_path


def test_record_and_last(isolated_env: Path) -> None:
    ledger = Ledger()
    assert ledger.path == default_ledger_path() == isolated_env / "state" / "jobs.jsonl"
    assert ledger.last() is None
    ledger.record(job_id="a", status_url="http://h/api/jobs/a", base_url="http://h/", type="t")
    ledger.record(job_id="b", status_url=None, base_url="http://other", idempotency_key="k")
    assert ledger.last() is not None and ledger.last().job_id == "b"  # type: ignore[union-attr]
    assert ledger.last("http://h").job_id == "a"  # type: ignore[union-attr]
    assert ledger.find_key("k", "http://other/").job_id == "b"  # type: ignore[union-attr]
    assert ledger.find_key("k", "http://h") is None
    assert stat.S_IMODE(ledger.path.stat().st_mode) == 0o600


def test_broken_lines_are_skipped_and_trim_keeps_newest(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.jsonl", keep=3)
    ledger.path.write_text('not json\n{"x": 1}\n')
    for i in range(20):
        ledger.record(job_id=f"j{i}", status_url=None, base_url="http://h" + "x" * 200)
    ids = [e.job_id for e in ledger.entries()]
    assert ids[-1] == "j19" and len(ids) <= 6


def test_unwritable_state_dir_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ledger = Ledger(blocker / "sub" / "l.jsonl")
    entry = ledger.record(job_id="a", status_url=None, base_url="http://h")
    assert entry.job_id == "a" and ledger.entries() == []
