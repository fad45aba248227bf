"""Whether the embedded store's fast paths answer. The tests turn them off to compare every
answer with plain mongomock's."""
from __future__ import annotations

import contextlib

ON = True


@contextlib.contextmanager
def fast_paths(enabled: bool):
    """Turns the fast paths on or off inside the block."""
    global ON
    previous, ON = ON, enabled
    try:
        yield
    finally:
        ON = previous
