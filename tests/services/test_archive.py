"""ArchiveService on real stores: the user's own archive (with, start/end, paging both ways, the
last page, completeness), what the caller no longer sees (delete for me, forced deletes, clear
history), room archives for readers only, no cross-app anchors; and the embedded store's
ordered fast path answering exactly what mongomock's scan answers."""
from __future__ import annotations

import pytest

from models.archive import ArchiveQuery
from models.errors import ForbiddenError, NotFoundError
from models.events import RecordingPublisher
from models.messages import make_draft
from models.requester import Requester
from models.services.container import build_services
from models.storage.embedded import switch
from tests.services.commands import new_dialog


@pytest.fixture
async def svc(settings, database, clock):
    built = build_services(settings, database, clock=clock, publisher=RecordingPublisher())
    await built.start()
    return built


async def user(svc, name: str, app_id: int = 1) -> Requester:
    created = await svc.users.create_guest(app_id, name)
    return Requester(app_id=app_id, user_id=created.id)


async def say(svc, who: Requester, to: Requester, body: str, date_sent: int = 1_700_000_000,
              **fields):
    return await svc.messages.send(who, make_draft(recipient_id=to.user_id, body=body,
                                                   date_sent=date_sent, **fields))


def bodies(page) -> list[str]:
    return [d.body for d in page.items]


@pytest.fixture
async def chat(svc):
    """alice talks to bob (m0..m5) and carol (c0..c2), interleaved; stored in that order."""
    alice, bob, carol = await user(svc, "alice"), await user(svc, "bob"), await user(svc, "carol")
    docs = {}
    for i in range(6):
        docs[f"m{i}"] = await say(svc, alice if i % 2 == 0 else bob, bob if i % 2 == 0 else alice,
                                  f"m{i}", 1_700_000_000 + i)
        if i < 3:
            docs[f"c{i}"] = await say(svc, carol, alice, f"c{i}", 1_700_000_000 + i)
    return alice, bob, carol, docs


async def test_own_archive_in_stored_order_with_and_without_a_contact(svc, chat):
    alice, bob, carol, _ = chat
    everything = await svc.archive.query(alice, ArchiveQuery())
    assert bodies(everything) == ["m0", "c0", "m1", "c1", "m2", "c2", "m3", "m4", "m5"]
    assert everything.complete
    with_bob = await svc.archive.query(alice, ArchiveQuery(with_user=bob.user_id))
    assert bodies(with_bob) == ["m0", "m1", "m2", "m3", "m4", "m5"]
    assert bodies(await svc.archive.query(carol, ArchiveQuery())) == ["c0", "c1", "c2"]
    assert bodies(await svc.archive.query(carol, ArchiveQuery(with_user=bob.user_id))) == []


async def test_start_and_end_bound_date_sent_inclusively(svc, chat):
    alice, bob, _, _ = chat
    page = await svc.archive.query(alice, ArchiveQuery(with_user=bob.user_id,
                                                       start=1_700_000_001, end=1_700_000_003))
    assert bodies(page) == ["m1", "m2", "m3"]


async def test_paging_forward_backward_and_the_last_page(svc, chat):
    alice, _, _, docs = chat
    first = await svc.archive.query(alice, ArchiveQuery(limit=4))
    assert bodies(first) == ["m0", "c0", "m1", "c1"] and not first.complete
    second = await svc.archive.query(alice, ArchiveQuery(limit=4, after_id=first.last))
    assert bodies(second) == ["m2", "c2", "m3", "m4"] and not second.complete
    third = await svc.archive.query(alice, ArchiveQuery(limit=4, after_id=second.last))
    assert bodies(third) == ["m5"] and third.complete
    last = await svc.archive.query(alice, ArchiveQuery(limit=4, last_page=True))
    assert bodies(last) == ["c2", "m3", "m4", "m5"] and not last.complete
    earlier = await svc.archive.query(alice, ArchiveQuery(limit=4, before_id=last.first))
    assert bodies(earlier) == ["m0", "c0", "m1", "c1", "m2"][1:] and not earlier.complete
    oldest = await svc.archive.query(alice, ArchiveQuery(limit=4, before_id=earlier.first))
    assert bodies(oldest) == ["m0"] and oldest.complete
    between = await svc.archive.query(alice, ArchiveQuery(after_id=docs["m1"].id,
                                                          before_id=docs["m3"].id))
    assert bodies(between) == ["c1", "m2", "c2"]


async def test_catch_up_follows_the_stored_order_not_the_client_ids(svc, chat):
    alice, bob, _, docs = chat
    # a client whose ids go back in time (a skewed clock): stored later, so archived later
    late = await say(svc, bob, alice, "late", id="000000000000000000000001")
    page = await svc.archive.query(alice, ArchiveQuery(after_id=docs["m5"].id))
    assert bodies(page) == ["late"] and page.items[0].id == late.id


async def test_deleted_for_me_forced_deletes_and_cleared_history_are_absent(svc, chat):
    alice, bob, _, docs = chat
    await svc.messages.delete(alice, [docs["m1"].id], force=False)
    assert "m1" not in bodies(await svc.archive.query(alice, ArchiveQuery()))
    assert "m1" in bodies(await svc.archive.query(bob, ArchiveQuery()))
    await svc.messages.delete(alice, [docs["m2"].id], force=True)
    assert "m2" not in bodies(await svc.archive.query(bob, ArchiveQuery()))
    await svc.memberships.clear_history(bob, docs["m3"].dialog_id)
    assert bodies(await svc.archive.query(bob, ArchiveQuery())) == []
    await say(svc, alice, bob, "after the clear")
    assert bodies(await svc.archive.query(bob, ArchiveQuery())) == ["after the clear"]
    assert "m3" in bodies(await svc.archive.query(alice, ArchiveQuery()))


async def test_a_private_dialog_deleted_for_me_stays_in_the_archive(svc, chat):
    alice, bob, _, docs = chat
    await svc.dialogs.delete(alice, [docs["m0"].dialog_id], force=False)  # hides it
    assert bodies(await svc.archive.query(alice, ArchiveQuery(with_user=bob.user_id)))[:1] == ["m0"]
    assert "m0" in bodies(await svc.archive.query(alice, ArchiveQuery()))


async def test_anchors_must_be_in_the_archive_queried(svc, chat):
    alice, bob, carol, docs = chat
    with pytest.raises(NotFoundError):  # bob's dialog with alice is not in carol's archive
        await svc.archive.query(carol, ArchiveQuery(after_id=docs["m0"].id))
    with pytest.raises(NotFoundError):
        await svc.archive.query(alice, ArchiveQuery(after_id="0123456789abcdef01234567"))
    with pytest.raises(NotFoundError):
        await svc.archive.query(alice, ArchiveQuery(with_user=carol.user_id,
                                                    after_id=docs["m0"].id))


async def test_room_archive_is_for_members_only(svc):
    alice, bob, eve = await user(svc, "alice"), await user(svc, "bob"), await user(svc, "eve")
    view, _ = await svc.dialogs.create(alice, new_dialog({"type": 2, "name": "team",
                                                          "occupants_ids": [bob.user_id]}))
    room = view.dialog.id
    for i in range(3):
        await svc.messages.send(bob, make_draft(dialog_id=room, body=f"g{i}"))
    page = await svc.archive.query(alice, ArchiveQuery(dialog_id=room, limit=2, last_page=True))
    assert bodies(page) == ["g1", "g2"] and not page.complete
    with pytest.raises(ForbiddenError):
        await svc.archive.query(eve, ArchiveQuery(dialog_id=room))
    with pytest.raises(ForbiddenError):
        await svc.archive.query(eve, ArchiveQuery(dialog_id="0123456789abcdef01234567"))
    # the rooms are not part of anyone's own archive
    assert bodies(await svc.archive.query(alice, ArchiveQuery())) == []


@pytest.mark.parametrize("backward", [False, True])
async def test_the_embedded_fast_path_answers_what_the_scan_answers(svc, chat, backward):
    alice, bob, carol, docs = chat
    await svc.messages.delete(alice, [docs["c1"].id], force=False)
    gone = await say(svc, alice, carol, "gone")
    await svc.messages.delete(alice, [gone.id], force=True)  # out of the ordered list too
    await say(svc, carol, alice, "kept")
    await svc.memberships.clear_history(alice, docs["m0"].dialog_id)
    await say(svc, bob, alice, "new")
    queries = [ArchiveQuery(limit=3, last_page=backward),
               ArchiveQuery(limit=2, after_id=docs["c0"].id),
               ArchiveQuery(limit=5, before_id=docs["m4"].id),
               ArchiveQuery(start=1_700_000_001, end=1_700_000_002),
               ArchiveQuery(with_user=bob.user_id, last_page=backward),
               ArchiveQuery(with_user=carol.user_id, last_page=backward)]
    for query in queries:
        fast = await svc.archive.query(alice, query)
        with switch.fast_paths(False):
            slow = await svc.archive.query(alice, query)
        assert fast == slow, query
    assert "gone" not in bodies(await svc.archive.query(alice, ArchiveQuery()))

