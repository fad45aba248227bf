"""The bridge's metrics on a real Prosody: stanza counters, room deliveries and online users move
when clients log in and send; the Grafana dashboard (docs/grafana-dashboard.json) names only
metrics this server exposes."""
from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.bridge.conftest import is_message, new_id
from tests.bridge.test_groupchat import group, room

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


async def _scrape(rest) -> dict[tuple[str, tuple], float]:
    status, text = await rest.call("GET", "/metrics")
    assert status == 200, text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _kind(samples: dict, name: str, kind: str) -> float:
    return samples.get((name, (("kind", kind),)), 0.0)


async def test_stanzas_deliveries_and_online_users_move(server, rest, xmpp):
    before = await _scrape(rest)
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await group(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    during = await _scrape(rest)
    assert during[("chatbridge_online_users", ())] >= 2
    assert during[("chatbridge_connected_users", ())] >= 2
    assert during[("chatbridge_xmpp_component_connected", ())] == 1
    assert during[("chatbridge_prosody_up", ())] == 1
    # the two logins' presences reached the component
    received = "chatbridge_xmpp_stanzas_received_total"
    assert _kind(during, received, "presence") >= _kind(before, received, "presence") + 2

    mid = new_id()
    alice.send(f'<message to="{room(dialog["_id"])}" type="groupchat" id="{mid}"><body>hi</body>'
               f'<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history>'
               f'<dialog_id>{dialog["_id"]}</dialog_id></extraParams></message>')
    await bob.wait_for(lambda s: is_message(s, id=mid))
    after = await _scrape(rest)
    assert _kind(after, received, "message") >= _kind(during, received, "message") + 1
    sent = "chatbridge_xmpp_stanzas_sent_total"
    assert _kind(after, sent, "message") >= _kind(during, sent, "message") + 1
    deliveries = "chatbridge_xmpp_room_deliveries_total"
    assert after[(deliveries, ())] >= during.get((deliveries, ()), 0) + 2  # bob and alice's echo
    store = "chatbridge_store_operation_seconds_count"
    assert after[(store, (("collection", "messages"), ("operation", "insert_one")))] >= 1 or \
        after[(store, (("collection", "messages"), ("operation", "insert_many")))] >= 1
    assert (("chatbridge_outbox_pending_events", (("consumer", "bridge"),))) in after
    assert (("chatbridge_relay_events_total", (("outcome", "skipped"),))) in after


def _panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created", "")
NOT_METRICS = {"rate", "irate", "increase", "sum", "by", "histogram_quantile", "le", "avg", "max",
               "min", "without", "topk", "clamp_min", "on", "ignoring", "time", "count", "offset",
               "bool", "and", "or", "unless", "delta", "deriv", "abs", "label_replace", "vector"}


async def test_the_dashboard_names_only_exposed_metrics(server, rest):
    dashboard = json.loads(DASHBOARD.read_text())
    status, text = await rest.call("GET", "/metrics")
    exposed = {family.name for family in text_string_to_metric_families(text)}
    exposed |= {s.name for family in text_string_to_metric_families(text) for s in family.samples}
    panels = [p for p in _panels(dashboard) if p.get("type") != "row"]
    assert len(panels) >= 10
    named: set[str] = set()
    for panel in panels:
        assert panel.get("title"), panel
        exprs = [t["expr"] for t in panel.get("targets", [])]
        assert exprs, f"panel {panel['title']!r} has no query"
        for expr in exprs:
            # without selectors, ranges, strings and grouping labels
            bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"|\b(by|without|on|ignoring) *\([^)]*\)",
                          "", expr)
            for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
                if word in NOT_METRICS:
                    continue
                assert any(word.endswith(s) and word[:len(word) - len(s)] in exposed
                           for s in SUFFIXES if s) or word in exposed, \
                    f"panel {panel['title']!r}: {word} is not a metric this server exposes"
                named.add(word)
    # every family of ours is on the dashboard
    ours = {name for name in exposed if name.startswith("chatbridge_")}
    families = {family.name for family in text_string_to_metric_families(text)
                if family.name.startswith("chatbridge_")}
    missing = {f for f in families if not any(n == f or n.startswith(f + "_") for n in named)}
    assert not missing, f"families without a panel: {sorted(missing)}"
    assert ours
