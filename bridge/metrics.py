"""The bridge's metrics, read when scraped (names and meanings: docs/metrics.md): the component's
stanza counts (plain integers kept by bridge/component.py, nothing per stanza beyond them), room
deliveries, the relay, Prosody, online users and rooms."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from bridge.convert import localname

if TYPE_CHECKING:
    from bridge.app import Bridge

KINDS = {"m": "message", "p": "presence", "i": "iq"}  # the first letter of what was written


class BridgeCollector:
    """A Prometheus collector over a running `Bridge` (registered by `Bridge.start`)."""

    def __init__(self, bridge: "Bridge") -> None:
        self._bridge = bridge

    def collect(self) -> Iterator[Metric]:
        bridge = self._bridge
        component = bridge.component
        received = CounterMetricFamily("chatbridge_xmpp_stanzas_received",
                                       "Stanzas the component received from Prosody, by kind",
                                       labels=["kind"])
        by_kind: dict[str, int] = {}
        for tag, count in list(component.received.items()):
            kind = localname(tag)
            by_kind[kind] = by_kind.get(kind, 0) + count
        for kind, count in sorted(by_kind.items()):
            received.add_metric([kind], count)
        yield received
        sent = CounterMetricFamily("chatbridge_xmpp_stanzas_sent",
                                   "Stanzas the component wrote to Prosody, by kind (a room "
                                   "fan-out wrapper counts once)", labels=["kind"])
        by_kind = {}
        for letter, count in list(component.sent.items()):
            kind = KINDS.get(letter, "other")
            by_kind[kind] = by_kind.get(kind, 0) + count
        for kind, count in sorted(by_kind.items()):
            sent.add_metric([kind], count)
        yield sent
        yield CounterMetricFamily("chatbridge_xmpp_stanzas_dropped",
                                  "Stanzas not written: the link to Prosody was down",
                                  value=component.dropped)
        yield CounterMetricFamily("chatbridge_xmpp_room_deliveries",
                                  "Room stanzas delivered: one per recipient resource",
                                  value=component.deliveries)
        yield GaugeMetricFamily("chatbridge_xmpp_component_connected",
                                "1 while the component's link to Prosody is up",
                                value=1 if component.linked else 0)
        yield CounterMetricFamily("chatbridge_xmpp_component_sessions",
                                  "Links made to Prosody (1 + reconnections)", value=component.sessions)
        plugins = component.bridge_plugins()
        yield GaugeMetricFamily("chatbridge_xmpp_pending_stanzas",
                                "Stanzas received and not handled yet",
                                value=bridge.state.serializer.pending + sum(p.pending for p in plugins))
        relay = bridge.relay
        events = CounterMetricFamily("chatbridge_relay_events",
                                     "Outbox events the relay delivered over XMPP or skipped",
                                     labels=["outcome"])
        events.add_metric(["delivered"], relay.delivered)
        events.add_metric(["skipped"], relay.skipped)
        yield events
        yield GaugeMetricFamily("chatbridge_relay_in_flight_events",
                                "Events the relay delivered that Prosody has not confirmed yet",
                                value=relay.in_flight)
        prosody = bridge.prosody
        up = (prosody.pid is not None) if prosody is not None else component.linked
        yield GaugeMetricFamily("chatbridge_prosody_up",
                                "1 while Prosody runs (embedded: the child process; external: "
                                "the component's link)", value=1 if up else 0)
        yield CounterMetricFamily("chatbridge_prosody_restarts",
                                  "Times the embedded Prosody was restarted after it died",
                                  value=prosody.restarts if prosody is not None else 0)
        online = bridge.state.online
        yield GaugeMetricFamily("chatbridge_connected_users",
                                "Users with at least one XMPP connection", value=len(online))
        yield GaugeMetricFamily("chatbridge_online_users",
                                "Users with at least one active XMPP connection (a mobile client "
                                "in the background is connected, not online)",
                                value=sum(1 for key in online.users()
                                          if any(online.connections(key).values())))
        yield GaugeMetricFamily("chatbridge_xmpp_rooms", "Rooms with at least one occupant",
                                value=bridge.state.occupancy.room_count())
