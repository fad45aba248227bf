"""No push for a blocked user's messages: a group member who blocked the sender gets none; the
others do; unblocking restores it."""
from __future__ import annotations

from models.requester import Requester


async def test_blocker_gets_no_push_for_the_blocked_users_messages(env, services):
    alice, bob, carol = [await env.user(n) for n in ("Alice", "Bob", "Carol")]
    for uid, name in ((alice, "a"), (bob, "b"), (carol, "c")):
        await env.subscribe_web(uid, name)
    dialog = await env.dialog(alice, [alice, bob, carol], type=2, name="Crew")
    await services.blocklist.block(Requester(app_id=1, user_id=carol), [alice])
    await env.message(dialog, alice, "hello crew")
    await env.fanout.run_once()
    jobs = await env.jobs.find({})
    assert {j["user_id"] for j in jobs} == {bob}
    await env.message(dialog, bob, "from bob")  # carol blocked alice only
    await env.fanout.run_once()
    assert {j["user_id"] for j in await env.jobs.find({}) if j["notification"]["body"]
            .endswith("from bob")} == {alice, carol}

    await services.blocklist.unblock(Requester(app_id=1, user_id=carol), [alice])
    await env.message(dialog, alice, "after")
    await env.fanout.run_once()
    assert {j["user_id"] for j in await env.jobs.find({}) if j["notification"]["body"]
            .endswith("after")} == {bob, carol}
