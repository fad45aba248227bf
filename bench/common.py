"""Shared benchmark helpers: free ports, child servers, a closed-loop load generator."""
from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


# The load comes from a few users on one address, far past the default rate limits: the checks
# still run on every request, but no limit trips.
UNLIMITED = {"CHAT_RATE_LIMITS__MESSAGES_PER_USER": "1000000/second",
             "CHAT_RATE_LIMITS__SIGNUPS_PER_ADDRESS": "1000000/second",
             "CHAT_RATE_LIMITS__XMPP_C2S_RATE": ""}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


def server_command(args: list[str]) -> list[str]:
    """`args` (a Python program and its arguments), under cProfile when BENCH_SERVER_PROFILE
    names a file: the profile is written when the server stops."""
    profile = os.environ.get("BENCH_SERVER_PROFILE")
    return [sys.executable, "-m", "cProfile", "-o", profile, *args] if profile else [sys.executable, *args]


def start_process(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """A child server. Its log goes to the file named by BENCH_SERVER_LOG (appended), else away."""
    log = os.environ.get("BENCH_SERVER_LOG")
    stderr = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=stderr)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]

    def row(self) -> str:
        return (f"| {self.name} | {self.requests} | {self.errors} | {self.rate:,.0f} | "
                f"{self.pct(50):.2f} | {self.pct(99):.2f} |")


async def closed_loop(name: str, clients: int, total: int,
                      make_call: Callable[[aiohttp.ClientSession, int], Awaitable[bool]]) -> Result:
    """`clients` concurrent workers issue `total` calls in all, each waiting for its answer."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal errors
            for i in counter:
                t0 = time.perf_counter()
                ok = await make_call(session, i)
                latencies.append((time.perf_counter() - t0) * 1000)
                if not ok:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - start
    return Result(name, total, errors, seconds, latencies)


def cpu_probe(steps: int = 3_000_000) -> float:
    """Seconds a fixed pure-Python loop takes here: how fast this (shared) machine is right now.
    Recorded with each run; absolute rates from runs with different probes are not comparable."""
    started = time.perf_counter()
    total = 0
    for i in range(steps):
        total += i
    return time.perf_counter() - started


def probe_sentence(seconds: float) -> str:
    return (f"Machine speed at the start of this run: a 3,000,000-step Python loop took "
            f"{seconds:.2f} s. This machine is shared and its speed varies severalfold over a day: "
            "compare ratios within a run, not absolute rates across runs.")


def python() -> str:
    return sys.executable


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class KeepAliveClient:
    """A minimal HTTP/1.1 client for open-loop load: a pool of kept-alive connections, requests
    written as prepared bytes, answers read by Content-Length. aiohttp's client cost the
    benchmark process ~0.8 ms of CPU per request on this machine, on the same two cores as the
    server it measures; this costs a fraction of that. Only for our own server's plain answers
    (no chunked bodies, no redirects)."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        self.host, self.port, self.size = host, port, connections
        self._idle: asyncio.Queue = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self._idle.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def close(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()

    def prepare(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}", "Content-Type: application/json"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        reader, writer = await self._idle.get()
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
        except Exception:  # the connection's state is unknown: a fresh one takes its place
            writer.close()
            self._idle.put_nowait(await asyncio.open_connection(self.host, self.port))
            raise
        except BaseException:  # cancelled: closed, the pool is one smaller
            writer.close()
            raise
        self._idle.put_nowait((reader, writer))
        return status, body


def machine_times() -> list[int]:
    """The machine's CPU time counters (Linux /proc/stat: user, nice, system, idle, iowait, irq,
    softirq, steal), in clock ticks."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def steal_share(before: list[int], after: list[int]) -> float:
    """Share of the machine's CPU time the hypervisor gave to others between two readings: this
    machine's slow spells are high steal (our processes wait for a physical core)."""
    spent = [b - a for a, b in zip(before, after)]
    return spent[7] / sum(spent) if sum(spent) else 0.0
