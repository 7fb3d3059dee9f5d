"""The load generators: wrk (compiled, for authorizations), pgbench, and an asyncio client.

wrk is the load generator for authorizations: it is compiled C, so at 16 or 64
connections it spends a small fraction of a core, leaving the rest to the connector and
PostgreSQL, which share this machine with it. The lifecycle (authorize, then settle, then
refund the same payment) needs each step to wait for the previous answer, which wrk's
per-thread scripting cannot express across connections, so it uses an asyncio client.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import APP_KEY, APP_TOKEN

HERE = Path(__file__).resolve().parent


@dataclass
class LoadResult:
    clients: int
    seconds: float
    requests: int
    ok: int
    failed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def require(tool: str, package: str) -> str:
    """The path of a tool, installed from Debian's packages first when missing (as root)."""
    path = shutil.which(tool)
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", package], check=False, capture_output=True
        )
        path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"{tool} is missing: apt-get install -y {package}")
    return path


def wrk_authorize(
    base: str, clients: int, seconds: int, *, accounts: int, prefix: str, value: str = "1.00"
) -> LoadResult:
    env = {
        **os.environ,
        "BENCH_APP_KEY": APP_KEY,
        "BENCH_APP_TOKEN": APP_TOKEN,
        "BENCH_ACCOUNTS": str(accounts),
        "BENCH_PREFIX": prefix,
        "BENCH_VALUE": value,
    }
    command = [
        require("wrk", "wrk"),
        "-t",
        "2",
        "-c",
        str(clients),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "authorize.lua"),
        base,
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    summary = json.loads(output.strip().splitlines()[-1])
    duration = summary["duration_us"] / 1e6
    return LoadResult(
        clients=clients,
        seconds=duration,
        requests=summary["requests"],
        ok=summary["approved"],
        failed=summary["not_approved"] + summary["socket_errors"],
        p50_ms=summary["p50_us"] / 1000,
        p95_ms=summary["p95_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
    )


def pgbench(url: str, clients: int, seconds: int) -> dict[str, float]:
    """pgbench's built-in TPC-B-like script on an initialized database."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    command = [
        require("pgbench", "postgresql-client"),
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(seconds),
        dsn,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms", output).group(1))  # type: ignore[union-attr]
    return {"clients": clients, "tps": tps, "latency_avg_ms": latency}


def pgbench_init(url: str, scale: int) -> None:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run(
        [require("pgbench", "postgresql-client"), "-i", "-q", "-s", str(scale), dsn],
        check=True,
        capture_output=True,
    )


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def _lifecycle_worker(
    base: str,
    worker: int,
    deadline: float,
    prefix: str,
    accounts: int,
    latencies: list[float],
    outcome: dict[str, int],
) -> None:
    import aiohttp

    headers = {"X-VTEX-API-AppKey": APP_KEY, "X-VTEX-API-AppToken": APP_TOKEN}
    async with aiohttp.ClientSession(base, headers=headers) as session:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            payment_id = f"{prefix}-{worker}-{n}"
            email = f"bench-{(worker * 7919 + n) % accounts}@example.com"
            steps: list[tuple[str, dict[str, Any]]] = [
                (
                    "/payments",
                    {
                        "paymentId": payment_id,
                        "value": "3.00",
                        "currency": "BRL",
                        "installments": 3,
                        "paymentMethod": "Promissories",
                        "miniCart": {"buyer": {"email": email}},
                    },
                ),
                (f"/payments/{payment_id}/settlements", {"requestId": "s", "value": "3.00"}),
                (f"/payments/{payment_id}/refunds", {"requestId": "r", "value": "1.00"}),
            ]
            started = time.monotonic()
            good = True
            for path, body in steps:
                async with session.post(path, json=body) as response:
                    answer = await response.json()
                    good = good and response.status == 200 and answer.get("status") != "denied"
            latencies.append((time.monotonic() - started) * 1000)
            outcome["ok" if good else "failed"] += 1


def lifecycle(base: str, clients: int, seconds: int, *, accounts: int, prefix: str) -> LoadResult:
    """Authorize, settle and refund per payment; latency is of the three together."""
    latencies: list[float] = []
    outcome = {"ok": 0, "failed": 0}

    async def main() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(
                _lifecycle_worker(base, w, deadline, prefix, accounts, latencies, outcome)
                for w in range(clients)
            )
        )

    started = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - started
    return LoadResult(
        clients,
        elapsed,
        outcome["ok"] + outcome["failed"],
        outcome["ok"],
        outcome["failed"],
        _percentile(latencies, 50),
        _percentile(latencies, 95),
        _percentile(latencies, 99),
    )
