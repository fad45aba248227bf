"""Instructions per REST request, counted by valgrind's callgrind in the `chatbridge serve`
process: a figure that does not drift with the machine's speed or load (wall-clock rates here
vary severalfold over a day), for comparing two versions of the code.

    .venv/bin/python bench/instructions.py [--requests 400] [--clients 10] [TREE ...]

Each TREE is a checkout (default: this one); its server runs from there (`python -m chatbridge
serve` with the checkout as the working directory, so its own packages load) under `valgrind
--tool=callgrind --instr-atstart=no`. Counting is switched on (`callgrind_control -i on`) only
while a phase runs: POST /chat/Message, then GET /chat/Message (20 newest), `--clients` concurrent
clients. The count is the server process's whole work for the phase (aiohttp, the services, the
embedded store, the push fan-out) divided by the requests. Needs Debian's `valgrind`. The
server is ~50 × slower under callgrind, so batches (group commit) are larger than at full
speed: compare trees with each other, not with `bench/rest.py`'s figures.
"""
from __future__ import annotations

import argparse
import asyncio
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import UNLIMITED, closed_loop, free_port, wait_http  # noqa: E402
from bench.rest import AUTH_KEY, setup_users  # noqa: E402

BODY = {"message": "hello from the benchmark, a short chat line", "send_to_chat": 1}


def _last_total(prefix: str) -> int:
    newest = max(glob.glob(prefix + ".*"), key=lambda f: int(f.rsplit(".", 1)[1]))
    with open(newest) as dump:
        for line in dump:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {newest}")


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], stdout=subprocess.DEVNULL, check=True)


async def _phase(pid: int, out: str, clients: int, requests: int, call) -> tuple[float, int]:
    _control("-z", str(pid))
    _control("-i", "on", str(pid))
    result = await closed_loop("phase", clients, requests, call)
    _control("-i", "off", str(pid))
    _control("-d", str(pid))
    time.sleep(1)
    return _last_total(out) / requests, result.errors


async def measure(tree: Path, clients: int, requests: int) -> dict[str, float]:
    port, tmp = free_port(), tempfile.mkdtemp(prefix="bench-instr-")
    out = f"{tmp}/callgrind.out"
    env = {**os.environ, "CHAT_HTTP__PORT": str(port), "CHAT_APP__AUTH_KEY": AUTH_KEY,
           "CHAT_DATA_DIR": tmp, "CHAT_BLOBS__PATH": f"{tmp}/blobs", "CHAT_LOG_LEVEL": "WARNING",
           "CHAT_XMPP__ENABLED": "false", "PYTHONHASHSEED": "0", **UNLIMITED}
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         sys.executable, "-m", "chatbridge", "serve"],
        cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_http(url + "/health", timeout=900)
        pairs = await setup_users(url, clients)

        async def create(session, i: int) -> bool:
            pair = pairs[i % clients]
            async with session.post(f"{url}/chat/Message.json", headers={"CB-Token": pair["token"]},
                                    json={**BODY, "chat_dialog_id": pair["dialog_id"]}) as r:
                await r.read()
                return r.status == 201

        async def history(session, i: int) -> bool:
            pair = pairs[i % clients]
            async with session.get(f"{url}/chat/Message.json", headers={"CB-Token": pair["token"]},
                                   params={"chat_dialog_id": pair["dialog_id"], "limit": "20",
                                           "mark_as_read": "0", "sort_desc": "date_sent"}) as r:
                await r.read()
                return r.status == 200

        await closed_loop("warm", clients, 100, create)
        post, post_errors = await _phase(server.pid, out, clients, requests, create)
        get, get_errors = await _phase(server.pid, out, clients, requests, history)
        if post_errors or get_errors:
            raise RuntimeError(f"{tree}: {post_errors} POST and {get_errors} GET errors")
        return {"post": post, "get": get}
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="*", type=Path, default=[Path(__file__).resolve().parent.parent])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    print("| tree | POST /chat/Message, M instructions | GET /chat/Message (20 newest), M instructions |")
    print("|---|---|---|")
    for tree in args.trees:
        figures = asyncio.run(measure(tree.resolve(), args.clients, args.requests))
        print(f"| {tree} | {figures['post'] / 1e6:.3f} | {figures['get'] / 1e6:.3f} |", flush=True)


if __name__ == "__main__":
    main()
