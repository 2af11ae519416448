"""The README's SDK examples run, as written, against a real reference server."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from pathlib import Path

import pytest

from jobctl.testing import ReferenceServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SDK_DOC = ROOT / "docs" / "sdk.md"


def sdk_examples() -> list[str]:
    text = README.read_text("utf-8")
    section = text.split("## The Python SDK", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def doc_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", SDK_DOC.read_text("utf-8"), re.S)


def test_the_readme_has_sync_and_async_examples() -> None:
    examples = sdk_examples()
    assert any("JobsClient(" in e for e in examples)
    assert any("AsyncJobsClient(" in e for e in examples)


def test_the_readme_examples_run(
    reference_server: ReferenceServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOBCTL_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("JOBCTL_URL", reference_server.url)
    monkeypatch.setenv("JOBCTL_TOKEN", reference_server.token)
    for code in sdk_examples():
        code = code.replace("http://127.0.0.1:8000", reference_server.url)
        code = code.replace('"dev-token"', repr(reference_server.token))
        if "await " in code or "async " in code:
            body = textwrap.indent(code, "    ")
            namespace: dict[str, object] = {}
            exec(f"async def example():\n{body}", namespace)  # noqa: S102
            asyncio.run(namespace["example"]())  # type: ignore[operator]
        else:
            exec(code, {})  # noqa: S102
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")


def test_the_sdk_doc_examples_run(
    reference_server_session: ReferenceServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOBCTL_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("JOBCTL_URL", reference_server_session.url)
    monkeypatch.setenv("JOBCTL_TOKEN", reference_server_session.token)
    examples = doc_examples()
    assert len(examples) == 11
    for code in examples:
        exec(code, {"__name__": "example"})  # noqa: S102
    assert json.loads((tmp_path / "echo-0.json").read_bytes()) == {"n": 0}
