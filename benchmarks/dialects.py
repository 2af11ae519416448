"""Row 10 (``dialects``): following an operation in every dialect, against the pollers people use.

The reference server serves the same jobs as Azure data-plane operations
(``POST /azure/jobs:start``, ``Operation-Location``), Azure Resource Manager
resources (``PUT /azure/resources/{name}``, ``Azure-AsyncOperation``), Google
AIP-151 operations (``POST /google/v1/jobs:run``), a plain RFC 9110 ``202 +
Location`` (``POST /location/jobs``) and our own API (``POST /api/jobs``); see
docs/protocol.md, "Other dialects". For each dialect, ``dialect_jobs`` sleep jobs
of ``dialect_seconds`` and up to a second more are started (spread over one
second; lengths spread too, so a fixed-interval poller meets every phase of a job's
end) and followed to their result, concurrently, by one client at a time:

- **jobctl**: the caller's own ``httpx.AsyncClient`` sends the request that starts
  the operation, and ``jobctl.follow(response, client)`` follows it (detection,
  ``Retry-After``, Google's ``:wait``, our own API's events) to its result.
- **jobctl-call** (the Azure dialects, where it is compared with azure-core as
  well): ``AsyncJobsClient.call()`` + ``wait_operation()``, the Operation API, one
  client for all the jobs.
- **naive**: the common hand-written loop on the same ``httpx.AsyncClient``: sleep
  1 s, GET the URL the dialect names (the monitor, the operation, the ``202``
  status URL), until it says the operation ended, then GET the result where the
  dialect puts it (``resourceLocation``, the original URL, a ``303``'s
  ``Location``, our ``/result``). It follows the same URLs as jobctl; only the
  pacing differs. A *fixed* 1 s interval, not the 1 s x1.5 backoff of the
  ``latency``/``requests`` rows: for jobs of a few seconds that is the stronger
  baseline for latency (the backoff's third poll comes at 4.75 s).
- **azure-core** (the Azure dialects only): what the Azure SDKs for Python run:
  a ``PipelineClient`` with a generated client's policies (requests transport),
  the initial request sent through its pipeline, and
  ``LROPoller(..., LROBasePolling(30))`` for the data plane or
  ``ARMPolling(30)`` (azure-mgmt-core, the polling of every ``azure-mgmt-*``
  package) for the resource, ``poller.result()`` in a thread per job (LROPoller
  polls in a thread of its own), with their default polling: ``Retry-After``
  when given, else the generated clients' 30 s. azure-core does not resolve a
  relative monitor URL, so the Azure dialects are started with the reference
  server's ``links=absolute`` (as Azure answers), for every client. Installed only by
  ``python -m benchmarks --setup`` (the ``bench`` extra); without it the baseline
  is skipped and the row says so.

Each (dialect, client) runs alone (``DELETE /api/_stats`` before, ``GET`` after),
so the server's counts are that client's: **requests per job** are the requests
the server counted on the job's own URLs (``GET /api/_stats``, per job) plus its
share of those that name no job (the start; an ARM resource's ``PUT`` and final
``GET`` are by name), the initial request included. **Latency** is from the
job's ``completedAt`` on the server (ms precision, same clock) to the moment the
client returned the result. **Client CPU** is this process's CPU time
(``time.process_time``, every thread) over the client's run, per job: jobctl and
the naive loop run on asyncio, azure-core on threads, which is how each is used.
A warm-up operation per client and dialect comes first (imports, first
connections, lazy set-up), not counted. The jobs are the samples: one pass,
figures are the median over the jobs, spreads their range; the clients of a
dialect run one after the other, so they see the same noise.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any, cast

import httpx

from jobctl import AsyncJobsClient, OperationResult, follow

from .common import Row, Settings, median, parse_iso, spread
from .server import USER_TOKEN, BenchServer

__all__ = ["DIALECTS", "azure_core_version", "dialect_rows"]

API_VERSION = "2024-05-01"
DIALECTS: dict[str, str] = {
    "azure": "Azure data plane (`Operation-Location`)",
    "arm": "Azure Resource Manager (PUT, `Azure-AsyncOperation`)",
    "google": "Google AIP-151 (`:wait`)",
    "location": "plain `202 + Location`",
    "jobctl": "jobctl's own API",
}
AZURE_DIALECTS = ("azure", "arm")
NAIVE_INTERVAL = 1.0
AZURE_POLLING_INTERVAL = 30.0  # the generated clients' default ``polling_interval``
_TERMINAL = {"succeeded", "failed", "canceled", "cancelled", "completed"}


@dataclass(frozen=True)
class _Start:
    method: str
    path: str
    body: dict[str, Any]


def _start(dialect: str, seconds: float) -> _Start:
    job = {"type": "sleep", "input": {"seconds": seconds}}
    # Azure services hand out absolute monitor URLs; the reference server's are relative
    # unless asked (azure-core's pollers do not resolve a relative one), for every client.
    version = f"api-version={API_VERSION}&links=absolute"
    if dialect == "azure":
        return _Start("POST", f"/azure/jobs:start?{version}", job)
    if dialect == "arm":
        name = f"bench-{uuid.uuid4().hex[:12]}"
        return _Start("PUT", f"/azure/resources/{name}?{version}", {"properties": job})
    if dialect == "google":
        return _Start("POST", "/google/v1/jobs:run", job)
    if dialect == "location":
        return _Start("POST", "/location/jobs", job)
    if dialect == "jobctl":
        return _Start("POST", "/api/jobs", job)
    raise ValueError(f"unknown dialect {dialect!r}")


def _job_id(dialect: str, body: Any) -> str:
    """The job behind an initial answer's body (an operation's id is its job's id)."""
    if dialect == "arm":
        return str(body["properties"]["jobId"])
    if dialect == "google":
        return str(body["name"]).rpartition("/")[2]
    if dialect == "jobctl":
        return str(body["jobId"])
    return str(body["id"])


def _check_result(dialect: str, result: Any, seconds: float) -> None:
    if dialect == "arm":
        state = result["properties"]["provisioningState"]
        if state != "Succeeded":
            raise RuntimeError(f"arm: the resource ended {state}")
        return
    if not isinstance(result, dict) or result.get("sleptSeconds") != seconds:
        raise RuntimeError(f"{dialect}: unexpected result {str(result)[:200]}")


@dataclass(frozen=True)
class _Done:
    job_id: str
    returned: float  # unix seconds at which the client had the result


# ---- jobctl: jobctl.follow(response, the caller's AsyncClient) ---------------------
async def _jobctl_one(
    http: httpx.AsyncClient, dialect: str, seconds: float, delay: float, limit: float
) -> _Done:
    await asyncio.sleep(delay)
    start = _start(dialect, seconds)
    response = await http.request(start.method, start.path, json=start.body)
    job_id = _job_id(dialect, response.json())
    # follow() is typed for both clients (a result, or an awaitable with an AsyncClient)
    done = await cast(Awaitable[OperationResult], follow(response, http, timeout=limit))
    returned = time.time()
    if done.outcome != "succeeded":
        raise RuntimeError(f"jobctl {dialect}: {done.outcome}: {done.error}")
    _check_result(dialect, done.result, seconds)
    return _Done(job_id, returned)


# ---- jobctl-call: AsyncJobsClient.call() + wait_operation() (the Operation API) ----
async def _call_one(
    client: AsyncJobsClient, dialect: str, seconds: float, delay: float, limit: float
) -> _Done:
    await asyncio.sleep(delay)
    start = _start(dialect, seconds)
    op = await client.call(start.method, start.path, json=start.body)
    job_id = _job_id(dialect, op.first.body if op.first is not None else None)
    done = await client.wait_operation(op, timeout=limit)
    returned = time.time()
    if done.outcome != "succeeded":
        raise RuntimeError(f"jobctl call {dialect}: {done.outcome}: {done.error}")
    _check_result(dialect, done.result, seconds)
    return _Done(job_id, returned)


# ---- naive: sleep 1 s, GET, until ended; then the result ---------------------------
async def _naive_one(
    http: httpx.AsyncClient, dialect: str, seconds: float, delay: float, limit: float
) -> _Done:
    await asyncio.sleep(delay)
    start = _start(dialect, seconds)
    response = await http.request(start.method, start.path, json=start.body)
    response.raise_for_status()
    body = response.json()
    job_id = _job_id(dialect, body)
    deadline = time.monotonic() + limit
    result: Any
    if dialect in ("azure", "arm"):
        header = "operation-location" if dialect == "azure" else "azure-asyncoperation"
        monitor = response.headers[header]
        status, last = await _naive_poll(http, monitor, deadline, _azure_status)
        if status.lower() != "succeeded":
            raise RuntimeError(f"naive {dialect}: {status}")
        final = last["resourceLocation"] if dialect == "azure" else start.path
        result = (await http.get(final)).json()
    elif dialect == "google":
        url = f"/google/v1/{body['name']}"
        _, last = await _naive_poll(http, url, deadline, _google_status)
        result = {k: v for k, v in last.get("response", {}).items() if k != "@type"}
    elif dialect == "location":
        result = await _naive_location(http, response.headers["location"], deadline)
    else:
        url = body["statusUrl"]
        status, _ = await _naive_poll(http, url, deadline, _azure_status)
        if status != "completed":
            raise RuntimeError(f"naive jobctl: {status}")
        result = (await http.get(f"/api/jobs/{job_id}/result")).json()
    returned = time.time()
    _check_result(dialect, result, seconds)
    return _Done(job_id, returned)


def _azure_status(body: dict[str, Any]) -> str:
    return str(body.get("status"))


def _google_status(body: dict[str, Any]) -> str:
    return "succeeded" if body.get("done") else "running"


async def _naive_poll(
    http: httpx.AsyncClient, url: str, deadline: float, state: Callable[[dict[str, Any]], str]
) -> tuple[str, dict[str, Any]]:
    """GET ``url`` every second until ``state`` of its body is terminal; that and the body."""
    while time.monotonic() < deadline:
        await asyncio.sleep(NAIVE_INTERVAL)
        reply = await http.get(url)
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        status = state(body)
        if status.lower() in _TERMINAL:
            return status, body
    raise RuntimeError(f"naive: {url} did not end in time")


async def _naive_location(http: httpx.AsyncClient, monitor: str, deadline: float) -> Any:
    while time.monotonic() < deadline:
        await asyncio.sleep(NAIVE_INTERVAL)
        reply = await http.get(monitor)
        if reply.status_code == 202:
            monitor = reply.headers.get("location", monitor)
            continue
        if reply.status_code == 303:
            reply = await http.get(reply.headers["location"])
        reply.raise_for_status()
        return reply.json()
    raise RuntimeError(f"naive location: {monitor} did not end in time")


async def _async_batch(url: str, client: str, dialect: str, plan: _Plan) -> list[_Done]:
    if client == "jobctl-call":
        async with AsyncJobsClient(url, USER_TOKEN) as jobs:
            calls = (_call_one(jobs, dialect, n, d, plan.limit) for d, n in plan.jobs)
            return list(await asyncio.gather(*calls))
    one = _jobctl_one if client == "jobctl" else _naive_one
    headers = {"Authorization": f"Bearer {USER_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        coros = (one(http, dialect, length, delay, plan.limit) for delay, length in plan.jobs)
        return list(await asyncio.gather(*coros))


# ---- azure-core: LROPoller with its default polling ------------------------------
def azure_core_version() -> str | None:
    """azure-core's version (with azure-mgmt-core's), or None when either is missing."""
    from importlib import metadata

    try:  # find_spec of a submodule raises when its parent package is missing
        if importlib.util.find_spec("azure.core") is None:
            return None
        if importlib.util.find_spec("azure.mgmt.core") is None:
            return None
    except ModuleNotFoundError:
        return None
    core, mgmt = metadata.version("azure-core"), metadata.version("azure-mgmt-core")
    return f"azure-core {core}, azure-mgmt-core {mgmt}"


def _azure_client(url: str) -> Any:
    """A ``PipelineClient`` with the policies a generated client's pipeline has."""
    from azure.core import PipelineClient
    from azure.core.pipeline import policies

    return PipelineClient(
        base_url=url,
        policies=[
            policies.RequestIdPolicy(),
            policies.HeadersPolicy({"Authorization": f"Bearer {USER_TOKEN}"}),
            policies.UserAgentPolicy("jobctl-bench"),
            policies.ProxyPolicy(),
            policies.ContentDecodePolicy(),
            policies.RetryPolicy(),
            policies.CustomHookPolicy(),
            policies.NetworkTraceLoggingPolicy(),
            policies.DistributedTracingPolicy(),
            policies.HttpLoggingPolicy(),
        ],
    )


def _azure_one(client: Any, dialect: str, seconds: float, delay: float, limit: float) -> _Done:
    from azure.core.polling import LROPoller
    from azure.core.polling.base_polling import LROBasePolling
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    time.sleep(delay)
    start = _start(dialect, seconds)
    request = HttpRequest(start.method, start.path, json=start.body)
    request.url = client.format_url(request.url)
    initial = client._pipeline.run(request, stream=False)  # as generated clients do
    if initial.http_response.status_code not in (200, 201, 202):
        raise RuntimeError(f"azure-core {dialect}: {initial.http_response.status_code}")
    job_id = _job_id(dialect, initial.http_response.json())

    def deserialize(pipeline_response: Any) -> Any:
        return json.loads(pipeline_response.http_response.text())

    method = (
        LROBasePolling(AZURE_POLLING_INTERVAL)
        if dialect == "azure"
        else ARMPolling(AZURE_POLLING_INTERVAL)
    )
    poller = LROPoller(client, initial, deserialize, method)
    result = poller.result(timeout=limit)
    returned = time.time()
    if poller.status().lower() != "succeeded":
        raise RuntimeError(f"azure-core {dialect}: {poller.status()}")
    _check_result(dialect, result, seconds)
    return _Done(job_id, returned)


def _azure_batch(url: str, dialect: str, plan: _Plan) -> list[_Done]:
    client = _azure_client(url)
    with client, concurrent.futures.ThreadPoolExecutor(max_workers=len(plan.jobs)) as pool:
        futures = [
            pool.submit(_azure_one, client, dialect, length, delay, plan.limit)
            for delay, length in plan.jobs
        ]
        return [f.result() for f in futures]


# ---- one client on one dialect, alone on the server -------------------------------
@dataclass(frozen=True)
class _Plan:
    """When each job starts (seconds after the first) and how long it sleeps."""

    jobs: tuple[tuple[float, float], ...]
    limit: float

    @classmethod
    def of(cls, count: int, seconds: float, width: float) -> _Plan:
        """``count`` jobs started evenly over ``width`` seconds, their lengths spread the same.

        Lengths that differ by a fraction of a second keep a fixed-interval poller from
        always polling at the same phase of every job (3 s jobs polled each second would
        all be caught just before their end, or all just after).
        """
        steps = [width * i / max(1, count) for i in range(count)]
        return cls(tuple((d, round(seconds + d, 3)) for d in steps), seconds * 3 + 60)


@dataclass
class _Run:
    requests: list[float] = field(default_factory=list)  # per job
    latency: list[float] = field(default_factory=list)  # per job, seconds
    cpu: float = 0.0  # per job, seconds
    routes: dict[str, float] = field(default_factory=dict)  # requests per job by route
    note: str = ""


def _batch(url: str, client: str, dialect: str, plan: _Plan) -> list[_Done]:
    if client == "azure-core":
        return _azure_batch(url, dialect, plan)
    return asyncio.run(_async_batch(url, client, dialect, plan))


def _measure(server: BenchServer, client: str, dialect: str, plan: _Plan) -> _Run:
    server.reset_stats()
    count = len(plan.jobs)
    cpu = time.process_time()
    done = _batch(server.url, client, dialect, plan)
    cpu = time.process_time() - cpu
    stats = server.stats()
    routes = {k: int(v) for k, v in stats["routes"].items() if "/api/_stats" not in k}
    total = sum(routes.values())
    jobs = stats["jobs"]
    named = sum(int(jobs.get(d.job_id, {}).get("total", 0)) for d in done)
    unnamed = total - named  # the starts (and an ARM resource's PUT and GET): by share
    run = _Run(cpu=cpu / count, routes={k: v / count for k, v in routes.items()})
    run.requests = [float(jobs.get(d.job_id, {}).get("total", 0)) + unnamed / count for d in done]
    if unnamed % count:
        run.note = f"{unnamed} requests named no job, shared out evenly"
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as http:
        for d in done:
            body = http.get(f"/api/jobs/{d.job_id}").json()
            run.latency.append(d.returned - parse_iso(str(body["completedAt"])))
    return run


def _warm_up(server: BenchServer, clients: dict[str, tuple[str, ...]]) -> None:
    """One short operation per client and dialect, all at once: imports, connections, set-up."""
    plan = _Plan.of(1, 0.1, 0.0)
    todo = [(dialect, client) for dialect, names in clients.items() for client in names]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(todo)) as pool:
        for future in [pool.submit(_batch, server.url, c, d, plan) for d, c in todo]:
            future.result()


# ---- rows -----------------------------------------------------------------------
def _ms(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value >= 0.1 else f"{value * 1000:.1f} ms"


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _us(value: float) -> str:
    return f"{value * 1000:.1f} ms"


_SHOWN = {
    "jobctl": "jobctl `follow()`",
    "jobctl-call": "jobctl `call()` + `wait_operation()`",
}


def dialect_rows(settings: Settings) -> list[Row]:
    """Requests, detection latency and client CPU per job in every dialect, against baselines.

    Args:
        settings: ``dialect_jobs``, ``dialect_seconds``, ``workdir``.
    """
    count, seconds = settings.dialect_jobs, settings.dialect_seconds
    width = min(1.0, seconds)
    plan = _Plan.of(count, seconds, width)
    azure = azure_core_version()
    pairs: dict[str, list[tuple[str, str]]] = {d: [("jobctl", "naive")] for d in DIALECTS}
    if azure is not None:
        for d in AZURE_DIALECTS:
            pairs[d] += [("jobctl", "azure-core"), ("jobctl-call", "azure-core")]
    clients = {d: tuple(dict.fromkeys(c for pair in p for c in pair)) for d, p in pairs.items()}
    runs: dict[tuple[str, str], _Run] = {}
    with BenchServer(workers=count + 8, workdir=settings.workdir) as server:
        _warm_up(server, clients)
        for dialect, names in clients.items():
            for client in names:
                runs[(dialect, client)] = _measure(server, client, dialect, plan)
    label = f"{count} jobs of {seconds:g}–{plan.jobs[-1][1]:g} s"
    rows: list[Row] = []
    for dialect, compared in pairs.items():
        for mine, base in compared:
            pair = (mine, runs[dialect, mine]), (base, runs[dialect, base])
            rows += _compare(dialect, label, *pair)
    if azure is None:
        rows.append(
            Row(
                "dialects",
                "vs azure-core's LROPoller (Azure dialects)",
                "skipped",
                "—",
                None,
                "—",
                note="azure-core / azure-mgmt-core are not installed: "
                "`python -m benchmarks --setup` (or `pip install -e '.[bench]'`)",
            )
        )
    return rows


def _routes(run: _Run) -> str:
    return ", ".join(f"{route} {_n(n)}" for route, n in run.routes.items())


def _compare(
    dialect: str, label: str, candidate: tuple[str, _Run], baseline: tuple[str, _Run]
) -> list[Row]:
    """Three rows: requests, latency p50 and CPU per operation, one jobctl API against a baseline.

    Against azure-core the issue's targets apply: no more requests, the end noticed sooner.
    """
    (name, mine), (base_name, base) = candidate, baseline
    where = f"{_SHOWN[name]}, {DIALECTS[dialect]}, {label}"
    short = name.replace("jobctl-call", "jobctl call()")
    vs_azure = base_name == "azure-core"
    req, base_req = fmean(mine.requests), fmean(base.requests)
    lat, base_lat = median(mine.latency), median(base.latency)
    notes = "; ".join(n for n in (mine.note, base.note) if n)
    by_route = f"per operation, {short}: {_routes(mine)}; {base_name}: {_routes(base)}"

    def both(values: list[float], others: list[float], fmt: Callable[[float], str]) -> str:
        return f"{short} {spread(values).text(fmt)}; {base_name} {spread(others).text(fmt)}"

    req_target, req_met = ("≤ azure-core", req <= base_req) if vs_azure else ("—", None)
    lat_target, lat_met = ("< azure-core", lat < base_lat) if vs_azure else ("—", None)
    return [
        Row(
            "dialects",
            f"requests per operation (mean), {where}",
            _n(req),
            f"{base_name}: {_n(base_req)}",
            req / base_req if base_req else None,
            both(mine.requests, base.requests, _n),
            req_target,
            req_met,
            f"{by_route}; {notes}" if notes else by_route,
        ),
        Row(
            "dialects",
            f"detection latency p50, {where}",
            _ms(lat),
            f"{base_name}: {_ms(base_lat)}",
            lat / base_lat if base_lat > 0 else None,
            both(mine.latency, base.latency, _ms),
            lat_target,
            lat_met,
        ),
        Row(
            "dialects",
            f"client CPU per operation, {where}",
            _us(mine.cpu),
            f"{base_name}: {_us(base.cpu)}",
            mine.cpu / base.cpu if base.cpu > 0 else None,
            f"one run of {len(mine.latency)} operations each",
        ),
    ]
