"""The admin services on real stores: only the application's admin gets in (a user requester of
the same application does not), and statistics on known data (models/services/admin_stats.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from models.admin import AdminDialogChange, AdminListQuery, StatsQuery
from models.errors import ForbiddenError
from models.messages import make_draft
from models.requester import Requester, admin
from models.users import UserQuery

DAY = 86400
JUNE_1 = int(datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp())


async def test_the_admin_services_refuse_a_user(services):
    user = Requester(app_id=1, user_id=5)
    calls = [
        services.admin.list_dialogs(user, AdminListQuery()),
        services.admin.update_dialog(user, "0" * 24, AdminDialogChange()),
        services.admin.list_messages(user, AdminListQuery()),
        services.admin.send(user, 5, make_draft(body="x", dialog_id="0" * 24)),
        services.admin.edit(user, "0" * 24, "x", None),
        services.admin.delete_message(user, "0" * 24, None),
        services.admin.list_users(user, UserQuery()),
        services.admin.delete_user(user, 5),
        services.admin_stats.messages_sent(user, StatsQuery()),
        services.admin_stats.messages_sent_per_day(user, StatsQuery()),
        services.admin_stats.dialogs_created(user, StatsQuery()),
        services.admin_stats.dialogs_created_per_day(user, StatsQuery()),
    ]
    for call in calls:
        with pytest.raises(ForbiddenError):
            await call


async def test_statistics_on_known_data(services, clock):
    db = services.database.db
    docs = [{"app_id": 1, "chat_dialog_id": "d", "date_sent": t, "deleted_for": []}
            for t in (JUNE_1 - DAY, JUNE_1, JUNE_1 + 10, JUNE_1 + DAY - 1, JUNE_1 + DAY)]
    docs.append({"app_id": 2, "chat_dialog_id": "e", "date_sent": JUNE_1, "deleted_for": []})
    await db["messages"].insert_many(docs)
    base = datetime(2026, 6, 1, tzinfo=timezone.utc)
    await db["dialogs"].insert_many([
        {"app_id": 1, "type": 2, "created_at": base - timedelta(seconds=1)},
        {"app_id": 1, "type": 3, "created_at": base},
        {"app_id": 1, "type": 2, "created_at": base + timedelta(hours=23, minutes=59)},
        {"app_id": 2, "type": 2, "created_at": base}])
    stats, me = services.admin_stats, admin(1)
    assert await stats.messages_sent(me, StatsQuery()) == 5
    assert await stats.messages_sent(me, StatsQuery(start=JUNE_1, end=JUNE_1 + DAY)) == 3
    assert await stats.messages_sent_per_day(me, StatsQuery()) == {
        "2026-05-31": 1, "2026-06-01": 3, "2026-06-02": 1}
    assert await stats.messages_sent_per_day(me, StatsQuery(limit=1, offset=2)) == {"2026-06-02": 1}
    assert await stats.messages_sent_per_day(me, StatsQuery(limit=0)) == {}
    assert await stats.messages_sent(admin(2), StatsQuery()) == 1
    assert await stats.dialogs_created(me, StatsQuery()) == 3
    assert await stats.dialogs_created(me, StatsQuery(types=(3,))) == 1
    assert await stats.dialogs_created_per_day(me, StatsQuery()) == {"2026-05-31": 1, "2026-06-01": 2}
    assert await stats.dialogs_created_per_day(me, StatsQuery(start=JUNE_1, types=(2,))) == \
        {"2026-06-01": 1}
