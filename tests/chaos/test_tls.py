"""TLS: verification is on by default; ``--ca-bundle`` / ``verify=`` trust a private CA;
``--insecure`` works but warns.

A self-signed certificate for 127.0.0.1 is made with the ``openssl`` command line; a
TLS-terminating proxy puts it in front of a real reference server, so the whole
protocol (submit, SSE, download) runs over HTTPS.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl import JobsClient, ServiceUnavailableError
from jobctl.testing import ReferenceServer

from .proxy import CountingProxy
from .support import assert_clean, cli_env, run_cli

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certificate, key) of a self-signed certificate for IP 127.0.0.1."""
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(crt), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return crt, key


@pytest.fixture(scope="module")
def https(cert: tuple[Path, Path]) -> Iterator[tuple[ReferenceServer, CountingProxy]]:
    """A reference server behind an HTTPS proxy with the self-signed certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert)
    with ReferenceServer(args=("--quiet",)) as server, CountingProxy(server.port, tls=ctx) as p:
        yield server, p


def test_verification_is_on_by_default(
    https: tuple[ReferenceServer, CountingProxy], tmp_path: Path
) -> None:
    server, proxy = https
    client = JobsClient(proxy.url, server.token, max_retries=0)
    with client, pytest.raises(ServiceUnavailableError):
        client.list()
    res = run_cli(["list"], cli_env(proxy.url, server.token, tmp_path), tmp_path)
    assert_clean(res)
    assert res.code == 8, res
    assert len([line for line in res.err.splitlines() if line.startswith("error:")]) == 1
    assert server.token not in res.out + res.err
    assert proxy.downstream < 10_000  # a handshake, never an API answer


def test_a_failed_verification_says_so(
    https: tuple[ReferenceServer, CountingProxy], tmp_path: Path
) -> None:
    server, proxy = https
    client = JobsClient(proxy.url, server.token, max_retries=0)
    with client, pytest.raises(ServiceUnavailableError) as caught:
        client.list()
    assert "certificate" in str(caught.value).lower()
    res = run_cli(["list"], cli_env(proxy.url, server.token, tmp_path), tmp_path)
    err = [line for line in res.err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "certificate" in err[0].lower(), res.err


def test_a_ca_bundle_makes_it_pass(
    https: tuple[ReferenceServer, CountingProxy], cert: tuple[Path, Path], tmp_path: Path
) -> None:
    server, proxy = https
    with JobsClient(proxy.url, server.token, verify=str(cert[0])) as client:
        job = client.run("report", {"pages": 2, "format": "csv", "secondsPerPage": 0}, timeout=30)
        path = client.download(job, tmp_path / "r.csv")
        assert path is not None and path.read_bytes().startswith(b"page,line,value\r\n")
    env = cli_env(proxy.url, server.token, tmp_path)
    args = ["--ca-bundle", str(cert[0]), "submit", "echo", "-p", "a=1", "--wait", "-o", "-"]
    res = run_cli(args, env, tmp_path)
    assert_clean(res)
    assert res.code == 0 and '"a": 1' in res.out, res
    assert "insecure" not in res.err.lower() and "warning" not in res.err.lower()


def test_insecure_works_and_warns(
    https: tuple[ReferenceServer, CountingProxy], tmp_path: Path
) -> None:
    server, proxy = https
    env = cli_env(proxy.url, server.token, tmp_path)
    res = run_cli(["--insecure", "submit", "echo", "-p", "a=1", "--wait"], env, tmp_path)
    assert_clean(res)
    assert res.code == 0, res
    warnings = [line for line in res.err.splitlines() if "warning" in line.lower()]
    assert warnings and any("insecure" in w.lower() or "verif" in w.lower() for w in warnings)
    with JobsClient(proxy.url, server.token, verify=False) as client:
        assert client.list().total >= 1


def test_a_missing_ca_bundle_is_a_usage_error(tmp_path: Path) -> None:
    env = cli_env("https://127.0.0.1:9", "t", tmp_path)
    res = run_cli(["--ca-bundle", str(tmp_path / "nope.pem"), "list"], env, tmp_path)
    assert_clean(res)
    assert res.code == 2 and "nope.pem" in res.err, res
