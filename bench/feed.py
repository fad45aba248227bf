"""Event feed benchmark (issue 15 §1): a feed page for a user in 500 dialogs with 100,000 entries
in the store, and what writing the feed adds to each stored message.

    .venv/bin/python bench/feed.py [--entries 100000] [--queries 300] [--write docs/benchmarks.md]

Everything runs in this process on the embedded store (mongomock-motor), built by the production
`build_services`:

1. Page latency. One user in 500 dialogs: 480 private ones and 20 groups of 60 members (bigger
   than `CHAT_FEED__FANOUT_MAX_MEMBERS`, so their entries are shared). Messages from random
   members of those dialogs are stored through `MessageService.send_batch` (as the bridge stores
   copies) until the feed holds `--entries` entries (private messages make one per member, group
   messages one). Then `--queries` pages of 100 after a random cursor of the user's feed, through
   `GET /chat/events` (aiohttp's test client on the production app, in this process) and straight
   to `FeedService.page`.
2. Write cost. Two fresh stores in the same run, one built with `feed_writes=False` (the code
   without the feed write): the same sends (one at a time, and in batches of 100, 1:1 and in a
   1,000-member group) run on each, interleaved, three times; the median difference per message is
   the feed's cost. Store writes are counted on the feed store's write methods.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr  # noqa: E402

from bench.common import cpu_probe, machine_times, probe_sentence, steal_share  # noqa: E402
from config.settings import Settings  # noqa: E402
from models.messages import make_draft  # noqa: E402
from models.requester import Requester  # noqa: E402
from models.services.access import GROUP  # noqa: E402
from models.services.container import build_services  # noqa: E402
from models.storage.feed import FeedStore  # noqa: E402
from models.storage.mongo import memory_database  # noqa: E402

APP_ID = 1
AUTH_KEY = "bench-feed-key"
RUNS = 5
TITLE = "## Event feed: a page for a user in 500 dialogs, and the cost of writing it"


def settings_for(tmp: Path) -> Settings:
    return Settings(_env_file=None, app={"id": APP_ID, "auth_key": SecretStr(AUTH_KEY),
                                         "auth_secret": SecretStr("s")},
                    blobs={"path": tmp / "blobs"}, data_dir=tmp, push={"enabled": False},
                    metrics={"enabled": False},
                    rate_limits={"messages_per_user": "1000000/second"})


def pct(values: list[float], p: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]


async def new_services(tmp: Path, feed_writes: bool = True):
    services = build_services(settings_for(tmp), memory_database(), feed_writes=feed_writes)
    await services.start()
    return services


async def guests(services, count: int, prefix: str) -> list[Requester]:
    return [Requester(app_id=APP_ID, user_id=(await services.users.create_guest(APP_ID, f"{prefix}{i}")).id)
            for i in range(count)]


async def group(services, owner: Requester, members: list[Requester], name: str) -> str:
    from rest.schemas.dialogs import dialog_draft
    view, _ = await services.dialogs.create(owner, dialog_draft(
        {"type": GROUP, "name": name, "occupants_ids": [m.user_id for m in members]}, 1000, 1000))
    return view.dialog.id


# -- 1. page latency -----------------------------------------------------------------------------
async def page_latency(tmp: Path, entries: int, queries: int) -> dict:
    from aiohttp.test_utils import TestClient, TestServer

    from rest.app import create_app

    services = await new_services(tmp)
    client = TestClient(TestServer(create_app(services)))
    await client.start_server()
    try:
        resp = await client.post("/session.json", json={
            "application_id": APP_ID, "auth_key": AUTH_KEY, "user": {"guest": "1", "full_name": "me"}})
        session = (await resp.json())["session"]
        me = Requester(app_id=APP_ID, user_id=session["user_id"])
        token = session["token"]
        others = await guests(services, 480, "peer")
        dialogs: list[tuple[str, list[Requester]]] = []
        for other in others:
            dialog = await services.dialogs.find_or_create_private(me, other.user_id)
            dialogs.append((dialog.id, [me, other]))
        rng = random.Random(5)
        for g in range(20):
            members = rng.sample(others, 59)
            dialogs.append((await group(services, me, members, f"group {g}"), [me, *members]))
        start = str((await services.feed.page(me, None, None)).next)
        feed = services.database.db["feed"]
        began = time.perf_counter()
        stored = n = 0
        while await feed.count_documents({}) < entries:
            items = []
            for _ in range(2000):
                dialog_id, members = rng.choice(dialogs)
                items.append((rng.choice(members), make_draft(dialog_id=dialog_id, body=f"m{n}")))
                n += 1
            stored += sum(1 for r in await services.messages.send_batch(items)
                          if not isinstance(r, BaseException))
        seeded = time.perf_counter() - began
        total = await feed.count_documents({})
        mine = [d["_id"] for d in await feed.find(
            {"key": f"u:{APP_ID}:{me.user_id}"}, {"_id": 1}).to_list(length=None)]
        # what `serve`'s collector policy does every second (chatbridge/gc_policy.py): the
        # long-lived documents out of the collector's full passes
        gc.collect()
        gc.freeze()
        cursor_ms = int(time.time() * 1000)
        anchors = [f"{rng.choice(mine[:-200])}-{cursor_ms}" for _ in range(queries)]
        # warm-up, then the REST route and the service alone, one query at a time
        for anchor in anchors[:10]:
            await services.feed.page(me, anchor, 100)
        rest_ms, service_ms, sizes = [], [], []
        ticks = machine_times()
        for anchor in anchors:
            t0 = time.perf_counter()
            resp = await client.get(f"/chat/events.json?since={anchor}&limit=100",
                                    headers={"CB-Token": token})
            body = await resp.json()
            rest_ms.append((time.perf_counter() - t0) * 1000)
            assert resp.status == 200 and len(body["items"]) == 100, (resp.status, body)
            sizes.append(len(body["items"]))
        for anchor in anchors:
            t0 = time.perf_counter()
            page = await services.feed.page(me, anchor, 100)
            service_ms.append((time.perf_counter() - t0) * 1000)
            assert len(page.items) == 100
        steal = steal_share(ticks, machine_times())
        # the empty page: a client polling with nothing new
        latest = str((await services.feed.page(me, None, None)).next)
        empty_ms = []
        for _ in range(queries):
            t0 = time.perf_counter()
            page = await services.feed.page(me, latest, 100)
            empty_ms.append((time.perf_counter() - t0) * 1000)
            assert not page.items
        shares = await services.database.db["feed_shares"].count_documents({"user_id": me.user_id})
        assert start
        return {"messages": stored, "entries": total, "seeded_s": seeded, "mine": len(mine),
                "shares": shares, "rest": rest_ms, "service": service_ms, "empty": empty_ms,
                "steal": steal}
    finally:
        await client.close()


# -- 2. write cost -------------------------------------------------------------------------------
class WriteCounter:
    """Counts calls of the feed store's write methods (one store operation each)."""

    METHODS = ("take_cursors", "insert_many", "share", "unshare", "unshare_dialog")

    def __init__(self) -> None:
        self.calls = 0
        self.entries = 0
        self._originals = {}

    def __enter__(self):
        for name in self.METHODS:
            original = getattr(FeedStore, name)
            self._originals[name] = original

            async def counted(store, *args, _original=original, _name=name, **kwargs):
                self.calls += 1
                if _name == "insert_many":
                    self.entries += len(args[0])
                return await _original(store, *args, **kwargs)
            setattr(FeedStore, name, counted)
        return self

    def __exit__(self, *exc) -> None:
        for name, original in self._originals.items():
            setattr(FeedStore, name, original)


async def write_setup(tmp: Path, feed_writes: bool) -> dict:
    services = await new_services(tmp, feed_writes)
    people = await guests(services, 1000, "w")
    pairs = []
    for i in range(0, 200, 2):
        dialog = await services.dialogs.find_or_create_private(people[i], people[i + 1].user_id)
        pairs.append((dialog.id, [people[i], people[i + 1]]))
    big = await group(services, people[0], people[1:], "thousand")
    # one message each first: the big group's shares are written once per process (1,000
    # upserts), which the per-message figures leave out
    await services.messages.send(people[0], make_draft(dialog_id=big, body="warm-up"))
    await services.messages.send(people[0], make_draft(dialog_id=pairs[0][0], body="warm-up"))
    return {"services": services, "pairs": pairs, "big": (big, people[:50])}


async def write_run(setup: dict, mode: str, count: int, batch: int) -> tuple[float, float, int, int]:
    """Wall-clock and CPU seconds for `count` sends (in `batch`es), and the feed's store writes
    and entries."""
    services, rng = setup["services"], random.Random(9)
    targets = setup["pairs"] if mode == "1:1" else [setup["big"]]
    items = []
    for n in range(count):
        dialog_id, members = rng.choice(targets)
        items.append((rng.choice(members), make_draft(dialog_id=dialog_id, body=f"w{n}")))
    with WriteCounter() as counter:
        t0, c0 = time.perf_counter(), time.process_time()
        for start in range(0, count, batch):
            chunk = items[start:start + batch]
            if batch == 1:
                await services.messages.send(*chunk[0])
            else:
                results = await services.messages.send_batch(chunk)
                assert not any(isinstance(r, BaseException) for r in results)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, cpu, counter.calls, counter.entries


async def write_cost(tmp: Path, count: int) -> list[dict]:
    with_feed = await write_setup(tmp / "a", True)
    without = await write_setup(tmp / "b", False)
    out = []
    for mode, batch in (("1:1", 1), ("1:1", 100), ("group of 1,000", 1), ("group of 1,000", 100)):
        diffs, wall, runs = [], [], []
        for _ in range(RUNS):
            base_wall, base_cpu, _, _ = await write_run(without, mode, count, batch)
            fed_wall, fed_cpu, calls, entries = await write_run(with_feed, mode, count, batch)
            diffs.append((fed_cpu - base_cpu) / count * 1e6)
            wall.append((fed_wall - base_wall) / count * 1e6)
            runs.append((base_cpu / count * 1e6, fed_cpu / count * 1e6, calls / count,
                         entries / count))
        runs.sort(key=lambda r: r[1] - r[0])
        median = runs[len(runs) // 2]
        out.append({"mode": mode, "batch": batch, "base_us": median[0], "feed_us": median[1],
                    "added_us": statistics.median(diffs), "all_added": sorted(diffs),
                    "wall_added": statistics.median(wall), "writes": median[2],
                    "entries": median[3]})
    return out


def report(latency: dict, writes: list[dict], sends: int, probe: float) -> str:
    rest, service, empty = latency["rest"], latency["service"], latency["empty"]
    met = "met" if pct(rest, 50) <= 10 else "NOT met"
    lines = [TITLE, "",
             f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({os.cpu_count()} cores), "
             f"Python {platform.python_version()}, `bench/feed.py`, in one process on the "
             "**mongomock-motor in-memory store** with the embedded store's ordered per-key lists "
             "(models/storage/embedded/feed.py); after seeding, the stored documents are frozen "
             "out of the garbage collector's full passes, as `serve`'s collector policy does "
             "(chatbridge/gc_policy.py). " + probe_sentence(probe), "",
             f"Page latency: one user in 500 dialogs (480 private, 20 groups of 60 members: "
             f"shared entries, {latency['shares']} `feed_shares` of theirs), "
             f"{latency['messages']:,} messages stored through `send_batch` in "
             f"{latency['seeded_s']:.0f} s, **{latency['entries']:,} feed entries** in the store "
             f"({latency['mine']:,} under the user's personal key). {len(rest)} pages of 100 after "
             "a random cursor of the user's, one at a time; hypervisor steal during them "
             f"{latency['steal']:.0%}.", "",
             "| read | n | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|",
             f"| `GET /chat/events?limit=100` (aiohttp test client, same process) | {len(rest)} | "
             f"**{pct(rest, 50):.2f}** | **{pct(rest, 99):.2f}** | {max(rest):.2f} |",
             f"| `FeedService.page` (100 items) | {len(service)} | {pct(service, 50):.2f} | "
             f"{pct(service, 99):.2f} | {max(service):.2f} |",
             f"| `FeedService.page`, nothing new (a poll) | {len(empty)} | {pct(empty, 50):.2f} | "
             f"{pct(empty, 99):.2f} | {max(empty):.2f} |", "",
             f"- Goal p50 ≤ 10 ms on the embedded store: **{met}** (REST p50 {pct(rest, 50):.2f} ms, "
             f"p99 {pct(rest, 99):.2f} ms). The REST time includes the session check, the JSON "
             "of 100 items and aiohttp's client in the same process.", "",
             "Write cost: the same sends on a store built without the feed write "
             f"(`build_services(feed_writes=False)`) and with it, interleaved, {RUNS} runs each "
             f"of {sends:,} sends per row; µs are this process's CPU time per stored message "
             "(less sensitive than wall-clock time to the other processes of this shared "
             "machine): the median run, every run's difference (sorted), and the median "
             "wall-clock difference in the last column. Store writes are the feed store's operations per "
             "message (one `insert_many` per batch; on MongoDB also the counter's `$inc` per batch, "
             "which the embedded store keeps in memory); entries are feed documents per message. "
             "The big group's shares (1,000 upserts, once per dialog and process) are written "
             "before the runs.", "",
             "| dialogs | sends per batch | without feed CPU µs/msg | with feed CPU µs/msg | "
             "added CPU µs/msg (runs) | feed store writes / msg | feed entries / msg | "
             "added wall-clock µs/msg |",
             "|---|---|---|---|---|---|---|---|"]
    for w in writes:
        runs = ", ".join(f"{d:.0f}" for d in w["all_added"])
        lines.append(f"| {w['mode']} | {w['batch']} | {w['base_us']:.0f} | {w['feed_us']:.0f} | "
                     f"**{w['added_us']:.0f}** ({runs}) | {w['writes']:.2f} | {w['entries']:.2f} | "
                     f"{w['wall_added']:.0f} |")
    lines += ["", "- A message in the 1,000-member group is one entry (its members read it through "
              "their shares); a 1:1 message is two (one per member: their pages stay one range "
              "each). Batched sends share one insert (and on MongoDB one counter `$inc`) per batch."]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replaces this section, or puts it before the hand-kept sections (the first time)."""
    text = path.read_text()
    if TITLE in text:
        start = text.index(TITLE)
        nxt = text.find("\n## ", start + len(TITLE))
        rest = text[nxt + 1:] if nxt != -1 else ""
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    else:
        anchor = text.find("\n## Domain-layer refactor")
        if anchor == -1:
            text = text.rstrip("\n") + "\n\n" + section
        else:
            text = text[:anchor + 1] + section.rstrip("\n") + "\n\n" + text[anchor + 1:]
    path.write_text(text)


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--sends", type=int, default=2000, help="sends per write-cost run")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    probe = cpu_probe()
    tmp = Path(tempfile.mkdtemp(prefix="bench-feed-"))

    async def run():
        latency = await page_latency(tmp / "page", args.entries, args.queries)
        writes = await write_cost(tmp, args.sends)
        return latency, writes

    latency, writes = asyncio.run(run())
    section = report(latency, writes, args.sends, probe)
    print(section)
    if args.write:
        write_section(args.write, section)


if __name__ == "__main__":
    main()
