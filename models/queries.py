"""List queries as the domain states them: conditions on named fields, an order, a page.

Transports parse their own filter language into these (REST: the ConnectyCube `field[op]=value`
form, rest/schemas/filters.py); the stores compile them for their database
(models/storage/filters.py). Field names are the stored ones, which are the ConnectyCube names.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Op(str, Enum):
    eq = "eq"
    ne = "ne"
    lt = "lt"
    lte = "lte"
    gt = "gt"
    gte = "gte"
    in_ = "in"
    nin = "nin"
    all = "all"
    contains = "ctn"  # case-insensitive substring
    starts_with = "start_with"  # case-insensitive prefix


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: Op
    value: Any  # already cast; a tuple for in / nin / all


# (field, 1 ascending | -1 descending), most significant first
Sort = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class PageRequest:
    skip: int = 0
    limit: int = 100
