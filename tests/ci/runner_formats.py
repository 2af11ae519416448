"""How the CI runners read what jobctl writes, written from their documentation, not from
jobctl's code, so the tests check jobctl against the runners and not against itself.

GitHub Actions ("Workflow commands for GitHub Actions"):

- a workflow command is a line ``::NAME key=value,key=value::DATA``; the runner
  takes the text up to the next ``::`` as the command and its properties
  (separated by ``,``, each split at its first ``=``), the rest as the data;
- data is percent-escaped: ``%`` as ``%25``, CR as ``%0D``, LF as ``%0A``;
  property values also escape ``:`` as ``%3A`` and ``,`` as ``%2C``;
- ``$GITHUB_OUTPUT`` holds ``NAME=VALUE`` lines, or for multi-line values
  ``NAME<<DELIMITER``, the value's lines, then a line that is exactly DELIMITER;
- a step summary is at most 1 MiB; a step shows at most 10 error annotations.

GitLab CI ("Custom collapsible sections", "artifacts:reports:dotenv"):

- ``\\e[0Ksection_start:UNIX_TS:NAME[collapsed=true]\\r\\e[0KHEADER`` ...
  ``\\e[0Ksection_end:UNIX_TS:NAME\\r\\e[0K``, NAME of ``[a-zA-Z0-9_.-]``;
- a dotenv report: ``KEY=VALUE`` lines (keys of letters, digits and ``_``), no
  blank lines, no comments, no quoting, no multi-line values, under 5 KB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GITHUB_ESCAPES_DATA = {"%25": "%", "%0D": "\r", "%0A": "\n"}
GITHUB_ESCAPES_PROPERTY = {**GITHUB_ESCAPES_DATA, "%3A": ":", "%2C": ","}
SUMMARY_LIMIT = 1024 * 1024
ANNOTATIONS_PER_STEP = 10
DOTENV_LIMIT = 5 * 1024


def _unescape(text: str, escapes: dict[str, str]) -> str:
    """Undo the documented percent-escapes; any other ``%`` means the writer forgot one."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "%":
            code = text[i : i + 3]
            assert code in escapes, f"unescaped % in {text!r} at {i}"
            out.append(escapes[code])
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@dataclass
class Command:
    """A parsed workflow command."""

    name: str
    properties: dict[str, str]
    data: str


def parse_command(line: str) -> Command | None:
    """A log line as the runner reads it: a command, or None for an ordinary line."""
    if not line.startswith("::"):
        return None
    end = line.find("::", 2)
    if end < 0:
        return None
    name, _, rest = line[2:end].partition(" ")
    properties: dict[str, str] = {}
    for item in rest.split(","):
        if item:
            key, sep, value = item.partition("=")
            assert sep, f"property without a value: {item!r}"
            assert "\r" not in value and "\n" not in value
            properties[key] = _unescape(value, GITHUB_ESCAPES_PROPERTY)
    data = line[end + 2 :]
    assert "\r" not in data and "\n" not in data
    return Command(name, properties, _unescape(data, GITHUB_ESCAPES_DATA))


def commands(stderr: str, name: str | None = None) -> list[Command]:
    """Every workflow command in a log (of one name)."""
    found = [c for line in stderr.split("\n") if (c := parse_command(line)) is not None]
    return [c for c in found if name is None or c.name == name]


def parse_output_file(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` as the runner reads it (a later value of a name wins)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    assert lines[-1] == "", "the file ends with a newline"
    lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i]
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            name, value = line.split("=", 1)
            values[name] = value
            i += 1
            continue
        assert heredoc > 0, f"neither NAME=VALUE nor NAME<<DELIMITER: {line!r}"
        name, delimiter = line.split("<<", 1)
        assert delimiter
        end = lines.index(delimiter, i + 1)  # ValueError: the delimiter never comes
        values[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return values


SECTION_START = re.compile(
    r"\x1b\[0Ksection_start:(\d+):([a-zA-Z0-9_.-]+)(\[collapsed=true\])?\r\x1b\[0K(.*)"
)
SECTION_END = re.compile(r"\x1b\[0Ksection_end:(\d+):([a-zA-Z0-9_.-]+)\r\x1b\[0K")


@dataclass
class Section:
    """A GitLab section: its name, header, whether it is folded, its lines and times."""

    name: str
    header: str
    collapsed: bool
    lines: list[str]
    start: int
    end: int


def sections(log: str) -> list[Section]:
    """Every section of a GitLab job log (they must close in order, as GitLab needs)."""
    found: list[Section] = []
    current: Section | None = None
    for line in log.split("\n"):
        if (m := SECTION_START.fullmatch(line)) is not None:
            assert current is None, "sections do not nest here"
            header = m[4]
            assert "\x1b" not in header and "\r" not in header
            current = Section(m[2], header, bool(m[3]), [], int(m[1]), 0)
        elif (m := SECTION_END.fullmatch(line)) is not None:
            assert current is not None and m[2] == current.name
            current.end = int(m[1])
            assert current.end >= current.start
            found.append(current)
            current = None
        else:
            assert "\x1b" not in line and "\r" not in line, repr(line)
            if current is not None:
                current.lines.append(line)
    assert current is None, "a section was never closed"
    return found


def parse_dotenv(text: str) -> dict[str, str]:
    """A dotenv report as GitLab reads it, refusing what GitLab refuses."""
    assert len(text.encode()) < DOTENV_LIMIT
    values: dict[str, str] = {}
    for line in text.split("\n")[:-1]:
        assert line, "GitLab refuses blank lines"
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z0-9_]+", key.strip()), line
        values[key.strip()] = value.strip()
    assert text.endswith("\n")
    return values
