"""Microsoft's AutoRest test server (``@microsoft.azure/autorest.testserver`` on npm).

The Azure SDK generators test their pollers against its ``/lro/...`` routes;
``test_autorest_lro.py`` runs jobctl against them. The package is never
committed: it is installed with npm into a cache directory
(``$JOBCTL_AUTOREST_DIR``, default ``~/.cache/jobctl-tests/autorest``), by
``.ci/run`` or by hand::

    python tests/sdk/autorest_server.py install

``AutorestServer`` runs it with Node on a free loopback port (its own flag,
``--port 0``; a preloaded script keeps Express from listening on every
interface), behind the same launcher as jobctl's reference server and Redis:
it ends when the test run's stdin pipe closes, so a killed run leaves no Node
behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from jobctl.testing import _GUARD, _Child

__all__ = ["NPM_SPEC", "VERSION", "AutorestServer", "install", "missing"]

PACKAGE = "@microsoft.azure/autorest.testserver"
VERSION = "3.3.51"
"""The version whose scenarios the test's table describes (docs/operations.md says so)."""
NPM_SPEC = f"{PACKAGE}@{VERSION}"
CACHE = Path(
    os.environ.get("JOBCTL_AUTOREST_DIR") or Path.home() / ".cache" / "jobctl-tests" / "autorest"
)
PACKAGE_DIR = CACHE / "node_modules" / "@microsoft.azure" / "autorest.testserver"
CLI = PACKAGE_DIR / "dist" / "cli" / "cli.js"

_READY = "Started server on port "
# Express's app.listen(port) binds every interface; the test needs loopback only.
_LOOPBACK = """\
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  return listen.apply(this, args);
};
"""


def _installed_version() -> str | None:
    try:
        data = json.loads((PACKAGE_DIR / "package.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def missing() -> str | None:
    """Why the test server can't run here (one line), or None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH (Debian: apt-get install nodejs npm)"
    found = _installed_version()
    if found != VERSION or not CLI.is_file():
        what = "not installed" if found is None else f"{found} is installed, not {VERSION}"
        return (
            f"the AutoRest test server {NPM_SPEC} is {what} in {CACHE}: "
            "python tests/sdk/autorest_server.py install"
        )
    return None


def install(timeout: float = 300.0) -> str | None:
    """Install the pinned package into the cache (a no-op when it is there).

    Args:
        timeout: seconds npm may take.

    Returns:
        None on success, else one line saying why not.
    """
    if _installed_version() == VERSION and CLI.is_file():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not on PATH (Debian: apt-get install nodejs npm)"
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", "--no-save"]
    cmd += ["--loglevel=error", NPM_SPEC]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"npm install {NPM_SPEC} took more than {timeout:.0f} s"
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        return f"npm install {NPM_SPEC} failed ({done.returncode}): {first}"
    return missing()


class AutorestServer(_Child):
    """The AutoRest test server on a free loopback port (``url`` once started).

    Args:
        startup_timeout: seconds to wait until it listens.
    """

    def __init__(self, *, startup_timeout: float = 30.0) -> None:
        super().__init__("the AutoRest test server", startup_timeout, "jobctl-autorest-", "log")
        self.url = ""

    def start(self) -> AutorestServer:
        """Start it and wait for the line naming its port; returns self."""
        why = missing()
        if why is not None:
            raise RuntimeError(why)
        preload = self.dir / "loopback.js"
        preload.write_text(_LOOPBACK, "utf-8")
        node = shutil.which("node") or "node"
        cmd = [sys.executable, "-c", _GUARD, node, "--require", str(preload), str(CLI), "run"]
        cmd += ["--port", "0", "--coverageDirectory", str(self.dir / "coverage")]
        line = self._launch(cmd, _READY, cwd=self.dir)
        port = re.search(r"port (\d+)", line)
        if port is None:
            self.stop()
            raise RuntimeError(f"the AutoRest test server's start line names no port: {line!r}")
        self.url = f"http://127.0.0.1:{port.group(1)}"
        return self

    def __enter__(self) -> AutorestServer:
        return self.start()


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python tests/sdk/autorest_server.py install")
    problem = install()
    print(problem or f"{NPM_SPEC} is installed in {CACHE}")
    sys.exit(1 if problem else 0)
