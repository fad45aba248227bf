"""The queue under several workers: leases, dead workers, orderly stops, expiry, missing providers."""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from config.settings import PushSettings
from models.services.push import job_doc
from push.senders import close_senders, start_senders
from push.worker import PushRuntime, PushWorker


async def _group_with_browsers(env, count: int):
    owner = await env.user("Owner")
    members = []
    for i in range(count):
        uid = await env.user(f"U{i}")
        await env.subscribe_web(uid, f"browser-{i}")
        members.append(uid)
    dialog = await env.dialog(owner, [owner, *members], type=2, name="All hands")
    await env.message(dialog, owner, "standup in 5")
    await env.fanout.run_once()
    assert await env.jobs.count() == count
    return owner, members, dialog


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_two_workers_over_one_queue_send_each_job_once(env, webpush):
    await _group_with_browsers(env, 80)
    webpush.delay = 0.02  # sends overlap, so both workers hold leases at the same time
    first, second = env.worker("w1", seed=1), env.worker("w2", seed=2)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in (first, second)]
    await _until(lambda: len(webpush.received) >= 80)
    await _until(lambda: first.stats.sent + second.stats.sent == 80)
    stop.set()
    await asyncio.gather(*tasks)

    names = sorted(r["name"] for r in webpush.received)
    assert names == sorted(f"browser-{i}" for i in range(80))  # each once
    assert webpush.requests == 80
    assert first.stats.sent > 0 and second.stats.sent > 0
    assert await env.jobs.count() == 0


async def test_concurrent_claims_never_share_a_job(env, services):
    await _group_with_browsers(env, 30)
    claims = await asyncio.gather(*(services.push.claim(7) for _ in range(6)))
    ids = [job.id for claim in claims for job in claim.jobs]
    assert len(ids) == len(set(ids)) == 30
    assert len({claim.token for claim in claims}) == 6


async def test_query_path_claims_are_disjoint_and_honour_leases(env, services, clock):
    """The claim path MongoDB takes (a sorted query instead of the embedded table walk)."""
    from models.storage.push_jobs import PushJobStore

    await _group_with_browsers(env, 12)
    store = PushJobStore(services.database.db)
    first = await store.claim("a", clock.now(), clock.now() + timedelta(seconds=30), 5)
    for job in first[:2]:  # two of them fail and come back later than the untouched ones
        assert await store.reschedule(job["_id"], "a", clock.now() + timedelta(seconds=5), "x")
    clock.advance(10)
    results = await asyncio.gather(*(store.claim(t, clock.now(), clock.now() + timedelta(seconds=30), 4)
                                     for t in ("b", "c", "d")))
    ids = [j["_id"] for r in results for j in r]
    assert len(ids) == len(set(ids)) == 9  # 7 never claimed + the 2 rescheduled
    assert {j["_id"] for j in first[:2]} <= set(ids)
    assert not set(ids) & {j["_id"] for j in first[2:]}  # still leased to "a"


async def test_job_held_by_a_dead_worker_is_sent_after_the_lease(env, webpush, services, clock):
    await _group_with_browsers(env, 5)
    dead = await services.push.claim(100)  # this worker then dies: no send, no settle
    assert len(dead.jobs) == 5

    survivor = env.worker("survivor")
    assert await survivor.run_once() == 0  # still leased
    clock.advance(services.settings.push.lease_seconds - 1)
    assert await survivor.run_once() == 0
    clock.advance(1)
    assert await survivor.run_once() == 5
    assert len(webpush.received) == 5 and await env.jobs.count() == 0

    # the dead worker's late settle cannot touch jobs it no longer holds
    assert await services.push.finish(dead) == 0


async def test_dead_worker_mid_send_then_lease_expiry(env, webpush, services, clock):
    await _group_with_browsers(env, 3)
    webpush.hold = asyncio.Event()  # the provider hangs: sends are in flight
    victim = env.worker("victim")
    claimed = await services.push.claim(100)
    sending = asyncio.gather(*(
        victim._deliver(claimed.token, job, []) for job in claimed.jobs))  # noqa: SLF001
    await _until(lambda: webpush.requests == 3)
    sending.cancel()  # killed mid-send: nothing settles its jobs
    await asyncio.gather(sending, return_exceptions=True)
    jobs = await env.jobs.find({})
    assert all(j["lease"] == claimed.token for j in jobs)

    webpush.hold.set()
    webpush.hold = None
    clock.advance(services.settings.push.lease_seconds)
    assert await env.worker("next").run_once() == 3
    assert await env.jobs.count() == 0
    assert {j["attempts"] for j in jobs} == {1}


async def test_orderly_stop_hands_unsent_jobs_back_at_once(env, webpush, services):
    await _group_with_browsers(env, 4)
    webpush.hold = asyncio.Event()
    worker = env.worker("stopping")
    task = asyncio.create_task(worker.run_once())
    await _until(lambda: webpush.requests == 4)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    jobs = await env.jobs.find({})
    assert len(jobs) == 4 and all(j["lease"] is None and j["attempts"] == 0 for j in jobs)
    webpush.hold.set()
    webpush.hold = None
    assert await env.worker("other").run_once() == 4  # no lease wait
    assert await env.jobs.count() == 0


async def test_expired_jobs_are_not_sent(env, webpush, services, clock):
    await _group_with_browsers(env, 2)
    clock.advance(services.settings.push.max_age_seconds)
    assert await env.worker().run_once() == 2
    dead = await env.jobs.find({"state": "dead"})
    assert len(dead) == 2 and all("expired before delivery" in j["last_error"] for j in dead)
    assert webpush.requests == 0


async def test_unconfigured_provider_one_log_line_and_no_jobs(services, push_settings, caplog, env):
    no_apns = PushSettings(**{**push_settings.model_dump(), "apns": {}})
    caplog.set_level(logging.WARNING)
    senders = await start_senders(no_apns)
    try:
        lines = [r.getMessage() for r in caplog.records if "APNs" in r.getMessage()]
        assert len(lines) == 1 and "not configured" in lines[0]
        assert set(senders) == {"gcm", "web"}
    finally:
        await close_senders(senders)
    assert no_apns.configured_channels() == {"gcm", "web"}

    # a worker without the sender discards such jobs with a single warning
    uid = await env.user("Ios")
    sub = await env.subscribe_apns(uid, "ab" * 32, "phone")
    now = services.clock.now()
    docs = [job_doc(sub.model_dump(by_alias=True), {"title": "t", "body": "b"},
                    key=f"x{i}", kind="event", now=now, expires_at=now + timedelta(hours=1))
            for i in range(3)]
    await services.push.enqueue(docs)
    caplog.clear()
    worker = PushWorker(services.push, {"web": env.senders["web"]}, services.settings.push)
    assert await worker.run_once() == 3
    assert worker.stats.discarded == 3 and await env.jobs.count() == 0
    assert len([r for r in caplog.records if "no sender for channel apns" in r.getMessage()]) == 1


async def test_runtime_loop_fans_out_and_delivers(env, webpush, services):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "bob")
    dialog = await env.dialog(alice, [alice, bob])
    async with PushRuntime(services.push, services.outbox, services.settings.push) as runtime:
        assert set(runtime.senders) == {"apns", "apns_voip", "gcm", "web"}
        await env.message(dialog, alice, "are you there?")
        await _until(lambda: len(webpush.received) == 1)
    assert webpush.received[0]["payload"]["data"]["message"] == "are you there?"
    assert await services.outbox.pending("push") == []  # handled (and, embedded, forgotten)
    assert await env.jobs.count() == 0
