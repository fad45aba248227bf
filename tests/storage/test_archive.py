"""The embedded store's ordered per-dialog lists behind the archive's pages
(models/storage/embedded/lookups.py: `OrderedGroup`); the pages themselves are compared with
mongomock's own answers in tests/services/test_archive.py."""
from __future__ import annotations

from models.storage.embedded.lookups import OrderedGroup


def test_ordered_groups_keep_order_whatever_the_arrival():
    group = OrderedGroup()
    for order, key in ((5, "e"), (1, "a"), (3, "c"), (9, "i"), (3, "c2")):
        group.add(order, key)
    assert group.orders == [1, 3, 3, 5, 9] and group.keys == ["a", "c", "c2", "e", "i"]
    group.remove(3, "c2")
    group.remove(7, "nothing")
    assert group.keys == ["a", "c", "e", "i"]
    assert group.between(1, 9) == (1, 3) and group.between(None, 3) == (0, 1)
    assert group.between(9, None) == (4, 4) and group.between(5, 2) == (3, 3)
