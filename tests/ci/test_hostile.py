"""A server's text can't break out of any CI format, forge a workflow command, or make
jobctl write a secret: a hostile raw server (10 KB of it) and the reference server echoing
the token and the webhook secret back in a job's error message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import xmlschema
from chaos.rawserver import RawServer, Reply, Seen

from jobctl.cli.text import clean
from jobctl.testing import ReferenceServer

from . import runner_formats as runner
from .conftest import FakeRunner

pytestmark = pytest.mark.integration

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))
LINE = (
    "50% of a, b: c ::error::forged ##[stop-commands]x ##[error]forged | <b>x</b> "
    "[l](javascript:x) \x1b[2J\x1b]0;title\x07 \u202e \x00 \ufffe ]]> &amp;"
)
TEN_KB = "\r\n".join([LINE] * (10_240 // len(LINE) + 1))
SENTINEL = "s3ntinel-T0KEN-9f8e7d"
HOOK_SECRET = "h00k-s3cret-1a2b3c"


@pytest.fixture
def hostile() -> Iterator[RawServer]:
    job = {
        "jobId": "j1",
        "type": "re|port ##[error]x",
        "status": "failed",
        "createdAt": "2026-11-27T18:30:00Z",
        "updatedAt": "2026-11-27T18:31:05Z",
        "error": {"code": "E:1,2%\n::x", "message": TEN_KB},
    }

    def route(seen: Seen) -> Reply:
        if seen.path.split("?")[0] == "/api/jobs/j1":
            return Reply(200, json.dumps(job).encode(), {"Content-Type": "application/json"})
        return Reply(404, b"{}", {"Content-Type": "application/problem+json"})

    with RawServer(route) as server:
        yield server


def test_ten_kb_of_hostile_text_stays_data_in_every_format(
    hostile: RawServer, isolated_env: Path
) -> None:
    gh = FakeRunner("github", hostile.url, "raw-server-token", isolated_env)
    r = gh("wait", "j1", "--strategy", "poll", "--junit", "r.xml", "--dotenv", "r.env")
    assert (r.code, r.out) == (3, "j1 failed\n")
    assert "##[" not in r.err and "\x1b" not in r.err and "\r" not in r.err
    ours = ("::group::", "::endgroup::", "::error ")
    assert all(line.startswith(ours) for line in r.err.split("\n") if line.startswith("::"))
    (annotation,) = runner.commands(r.err, "error")
    assert annotation.properties == {"title": "jobctl: re|port ##\\x5berror]x j1 failed"}
    reason = f"E:1,2%\n::x: {TEN_KB}".replace("\r\n", "\n")  # the job's "code: message"
    shown = "\n".join(clean(line) for line in reason.split("\n"))  # its lines kept, escaped
    guarded = shown.replace("##[", "##\\x5b")  # the log's guard: no legacy command gets through
    kept = annotation.data.split("… (")[0]
    assert guarded.startswith(kept) and kept == shown[:4000].replace("##[", "##\\x5b")
    assert annotation.data.endswith(f"… ({len(shown) - 4000} more characters in the log)")
    (group,) = runner.commands(r.err, "group")
    assert group.data.startswith("re|port ##\\x5berror]x j1: failed (E:1,2%\\n::x: 50% of a, b")
    assert len(r.summary.encode()) < 4000
    row = r.summary.splitlines()[-2]
    assert "<b>" not in row and "\x1b" not in row and "##[" not in row and "\\#\\#\\[" in row
    SCHEMA.validate((gh.home / "r.xml").read_text("utf-8"))
    assert runner.parse_dotenv((gh.home / "r.env").read_text()) == {
        "JOBCTL_EXIT_CODE": "3",
        "JOBCTL_JOB_ID": "j1",
        "JOBCTL_STATUS": "failed",
    }


def test_the_token_and_webhook_secret_are_never_written(isolated_env: Path) -> None:
    with ReferenceServer(tokens={"ci": SENTINEL}, admins=()) as server:
        for system in ("github", "gitlab"):
            ci = FakeRunner(system, server.url, SENTINEL, isolated_env)
            r = ci(
                "submit", "fail", "-p", "code=E_LEAK",
                "-p", f"message=token {SENTINEL} secret {HOOK_SECRET}",
                "--webhook", f"{server.url}/hook", "--webhook-secret", HOOK_SECRET,
                "--wait", "--junit", "r.xml", "--dotenv", "r.env",
            )  # fmt: skip
            assert r.code == 3, r.err
            written = [r.out, r.err, r.output, r.summary]
            written += [(ci.home / name).read_text("utf-8") for name in ("r.xml", "r.env")]
            assert all(SENTINEL not in text and HOOK_SECRET not in text for text in written)
            assert "token *** secret ***" in (ci.home / "r.xml").read_text("utf-8")
            if system == "github":
                (annotation,) = runner.commands(r.err, "error")
                assert annotation.data == "E_LEAK: token *** secret ***"
                assert "token \\*\\*\\* secret \\*\\*\\*" in r.summary
            else:
                (section,) = runner.sections(r.err)
                assert "token *** secret ***" in section.header
