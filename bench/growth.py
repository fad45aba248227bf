"""Store growth: a history page, the dialog list and the unread counts as one dialog grows, on
the embedded store, through the services in this process (no HTTP: the store's share alone).

    .venv/bin/python bench/growth.py [--sizes 1000,10000,50000] [--write docs/benchmarks.md]

Two users in two group dialogs; user A sends into the first until it holds each size, user B has
read all but the newest 20 (the usual case: a read position near the end). At each size, 15
rounds of: B's newest 20 messages (`sort_desc=date_sent`), B's dialog list, B's unread counts.
A page should cost what the page holds, whatever the dialog's size.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr  # noqa: E402

from config.settings import Settings  # noqa: E402
from models.clock import Clock  # noqa: E402
from models.dialogs import DialogDraft, DialogQuery, DialogType  # noqa: E402
from models.messages import HistoryQuery, MessageUpdate, make_draft  # noqa: E402
from models.requester import Requester  # noqa: E402
from models.services.container import build_services  # noqa: E402
from models.storage.mongo import memory_database  # noqa: E402

ROUNDS = 15


async def measure(sizes: list[int]) -> list[dict]:
    tmp = tempfile.mkdtemp(prefix="bench-growth-")
    settings = Settings(_env_file=None, app={"id": 1, "auth_key": SecretStr("k"),
                                             "auth_secret": SecretStr("s")},
                        blobs={"path": f"{tmp}/blobs"}, data_dir=tmp,
                        rate_limits={"messages_per_user": ""})
    services = build_services(settings, memory_database("growth"), clock=Clock())
    await services.start()
    a, b = (await services.users.create_guest(1, "a")), (await services.users.create_guest(1, "b"))
    alice, bob = Requester(app_id=1, user_id=a.id), Requester(app_id=1, user_id=b.id)
    first, _ = await services.dialogs.create(alice, DialogDraft(type=DialogType.GROUP, name="big",
                                                                occupants_ids=(b.id,)))
    await services.dialogs.create(alice, DialogDraft(type=DialogType.GROUP, name="small",
                                                     occupants_ids=(b.id,)))
    dialog_id, stored, rows = first.dialog.id, 0, []

    async def send(count: int) -> None:
        nonlocal stored
        while count:
            batch = min(500, count)
            await services.messages.send_batch(
                [(alice, make_draft(dialog_id=dialog_id, body=f"message {stored + i}"))
                 for i in range(batch)])
            stored, count = stored + batch, count - batch

    newest = HistoryQuery(dialog_id=dialog_id, sort=(("date_sent", -1), ("_id", -1)), limit=20,
                          mark_read=False)
    for size in sizes:
        await send(max(0, size - 20 - stored))
        await services.receipts.mark(bob, MessageUpdate(read=True, dialog_id=dialog_id))
        await send(20)
        timings: dict[str, list[float]] = {"history": [], "dialogs": [], "unread": []}
        for _ in range(ROUNDS):
            start = time.perf_counter()
            page = await services.messages.history(bob, newest)
            timings["history"].append(time.perf_counter() - start)
            start = time.perf_counter()
            await services.dialogs.list(bob, DialogQuery())
            timings["dialogs"].append(time.perf_counter() - start)
            start = time.perf_counter()
            counts = await services.receipts.unread_counts(bob, None)
            timings["unread"].append(time.perf_counter() - start)
        assert page.items[0].body == f"message {stored - 1}" and counts["total"] == 20
        rows.append({"messages": stored, **{k: (statistics.median(v) * 1000, max(v) * 1000)
                                            for k, v in timings.items()}})
        print(rows[-1], flush=True)
    return rows


def report(rows: list[dict]) -> str:
    lines = [
        "## Store growth: history, dialog list, unread counts (embedded store)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}, `bench/growth.py`: the services in one process on "
        "**mongomock-motor (embedded, in memory)**, no HTTP; one dialog grows to each size, the "
        f"reader has read all but the newest 20; {ROUNDS} rounds at each size (p50 / max, ms).",
        "",
        "| messages in the dialog | newest 20 (history page) | dialog list (2 dialogs) | unread counts |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['messages']:,} | " + " | ".join(
            f"{row[k][0]:.2f} / {row[k][1]:.2f}" for k in ("history", "dialogs", "unread")) + " |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    rows = asyncio.run(measure([int(s) for s in args.sizes.split(",")]))
    section = report(rows)
    print(section)
    if args.write:
        from bench.rest import write_section

        write_section(args.write, section)


if __name__ == "__main__":
    main()
