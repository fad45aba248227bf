"""Query-string decoding: both array encodings the SDK produces decode to the same filter."""
from __future__ import annotations

from urllib.parse import parse_qsl, quote

from hypothesis import given
from hypothesis import strategies as st

from models.lax import split_list
from rest.params import nested_params

values = st.lists(st.text(alphabet=st.characters(blacklist_characters=",", blacklist_categories=("Cs",)),
                          min_size=1, max_size=8).map(str.strip).filter(bool), min_size=1, max_size=6)


@given(values)
def test_repeated_keys_and_comma_lists_agree(items):
    repeated = "&".join(f"id[in][]={quote(v, safe='')}" for v in items)
    comma = "id[in]=" + quote(",".join(items), safe="")
    a = nested_params(parse_qsl(repeated, keep_blank_values=True))
    b = nested_params(parse_qsl(comma, keep_blank_values=True))
    assert split_list(a["id"]["in"]) == split_list(b["id"]["in"]) == items


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
                       st.text(max_size=10), max_size=8))
def test_plain_keys_round_trip(params):
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    assert nested_params(parse_qsl(query, keep_blank_values=True)) == params


def test_operators_and_nested_objects():
    query = "type[in]=2%2C3&updated_at[gt]=1700000000&extensions%5Blocation%5D=bar&sort_desc=x&limit=5"
    got = nested_params(parse_qsl(query, keep_blank_values=True))
    assert got == {"type": {"in": "2,3"}, "updated_at": {"gt": "1700000000"},
                   "extensions": {"location": "bar"}, "sort_desc": "x", "limit": "5"}
