"""Webhooks pure logic: signatures (spec test vector), projection, URL rules, backoff."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teranga.platform.broker import check_topic
from teranga.platform.errors import ValidationFailed
from teranga.results import api as results
from teranga.webhooks import domain

# The Standard Webhooks reference test vector (libraries' test suites).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_spec_test_vector() -> None:
    assert domain.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG


def _headers(sig: str, ts: int = VECTOR_TS) -> dict[str, str]:
    return {"webhook-id": VECTOR_ID, "webhook-timestamp": str(ts), "webhook-signature": sig}


def test_verify_accepts_any_listed_signature_and_refuses_stale_timestamps() -> None:
    now = dt.datetime.fromtimestamp(VECTOR_TS, dt.UTC)
    other = domain.new_secret()
    both = domain.signature_header([other, VECTOR_SECRET], VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    assert domain.verify(VECTOR_SECRET, _headers(both), VECTOR_BODY, now=now)
    assert domain.verify(other, _headers(both), VECTOR_BODY, now=now)
    late = now + dt.timedelta(minutes=6)
    assert not domain.verify(VECTOR_SECRET, _headers(VECTOR_SIG), VECTOR_BODY, now=late)
    assert not domain.verify(domain.new_secret(), _headers(VECTOR_SIG), VECTOR_BODY, now=now)


@given(st.binary(min_size=1, max_size=200), st.data())
def test_a_flipped_byte_breaks_the_signature(body: bytes, data: st.DataObject) -> None:
    secret = "whsec_" + "A" * 43 + "="
    now = dt.datetime.fromtimestamp(VECTOR_TS, dt.UTC)
    sig = domain.sign(secret, VECTOR_ID, VECTOR_TS, body)
    i = data.draw(st.integers(0, len(body) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = body[:i] + bytes([body[i] ^ (1 << bit)]) + body[i + 1 :]
    assert domain.verify(secret, _headers(sig), body, now=now)
    assert not domain.verify(secret, _headers(sig), tampered, now=now)


def test_new_secrets_are_spec_shaped_and_distinct() -> None:
    a, b = domain.new_secret(), domain.new_secret()
    assert a != b
    assert a.startswith("whsec_")
    assert len(domain._key(a)) == 32


def test_projection_keeps_only_declared_fields_of_the_right_kind() -> None:
    order, session = str(uuid.uuid4()), str(uuid.uuid4())
    [(kind, data)] = domain.project(
        "ticketing.payment.refunded",
        {
            "payment_id": order,
            "amount_xof": 5000,
            "reason": "Awa Diop, +221771234567",
            "provider": "Awa Diop",  # free text where a code is expected: dropped
            "late": "yes",  # not a boolean: dropped
        },
    )
    assert kind == "ticketing.payment.refunded"
    assert data == {"payment_id": order, "amount_xof": 5000}
    events = domain.project(
        "ticketing.ticket.revoked",
        {"ticket_id": order, "replaced_by": session, "session_id": session, "holder": "x"},
    )
    assert [e[0] for e in events] == ["ticketing.ticket.revoked", "ticketing.ticket.transferred"]
    assert events[1][1] == {"ticket_id": order, "session_id": session, "new_ticket_id": session}
    medals = domain.project(
        "public.joj-dakar-2026.medals",
        {"upsert": [{"noc": "SEN", "gold": 1, "name": "Awa"}], "remove": ["FRA", "Awa Diop"]},
    )
    assert medals == [
        ("results.medals.updated", {"upsert": [{"noc": "SEN", "gold": 1}], "remove": ["FRA"]})
    ]
    assert domain.project("public.joj-dakar-2026.schedule", {"code": "X"}) == []
    assert domain.project("public.announcements", {"text": "hello"}) == []
    # the old global names and other shapes are not results events
    assert domain.project("public.medals", {"upsert": []}) == []
    assert domain.project("public.results.unit.ATHM100M", {"official": True}) == []
    assert domain.project("public.x.results.unit", {"official": True}) == []


def test_results_units_split_into_official_and_updated() -> None:
    topic = "public.joj-dakar-2026.results.unit.ATHM100M"
    assert domain.project(topic, {"code": "ATHM100M", "official": True})[0][0] == (
        "results.unit.official"
    )
    assert domain.project(topic, {"code": "ATHM100M", "official": False})[0][0] == (
        "results.unit.updated"
    )


def test_results_events_come_from_every_tenant_s_own_topics() -> None:
    """The catalogue follows the results domain's tenant-namespaced topic names."""
    code = "ATHM100M--------------FNL-000100--"
    for slug in ("joj-dakar-2026", "a", "x" * 63):  # tenant slugs: 1-63 of [a-z0-9-]
        assert check_topic(results.unit_topic(slug, code))  # the longest fits the broker
        [(kind, data)] = domain.project(results.unit_topic(slug, code), {"official": True})
        assert (kind, data) == ("results.unit.official", {"official": True})
        [(kind, _)] = domain.project(results.medals_topic(slug), {"upsert": []})
        assert kind == "results.medals.updated"
        assert domain.project(results.schedule_topic(slug), {"official": True}) == []
        assert domain.project(results.sport_topic(slug, "athletics"), {"official": True}) == []


def test_event_type_lists_are_checked() -> None:
    assert domain.check_event_types(["*", "*", "ticketing.order.paid"]) == [
        "*",
        "ticketing.order.paid",
    ]
    with pytest.raises(ValidationFailed):
        domain.check_event_types(["ticketing.order.stolen"])
    with pytest.raises(ValidationFailed):
        domain.check_event_types([])
    assert domain.subscribed(["*"], "results.medals.updated")
    assert not domain.subscribed(["ticketing.order.paid"], "results.medals.updated")
    assert domain.subscribed(["ticketing.order.paid"], domain.PING)


def _resolver(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        return table.get(host, [host])

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/h",
        "https://172.16.5.4/h",
        "https://192.168.1.1/h",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/h",
        "https://[fd00::1]/h",
        "https://[fe80::1]/h",
        "https://[::ffff:10.0.0.1]/h",
        "https://0.0.0.0/h",
        "https://224.0.0.1/h",
        "https://127.0.0.1/h",
        "https://metadata.internal/h",  # resolves to the metadata address
        "https://rebind.example/h",  # one public, one private address
        "http://203.0.113.10/h",  # plain http to a public host
        "https://user:pw@198.51.100.1/h",
        "gopher://198.51.100.1/h",
        "https:///nohost",
    ],
)
def test_ssrf_targets_are_refused_in_production(url: str) -> None:
    resolve = _resolver(
        {"metadata.internal": ["169.254.169.254"], "rebind.example": ["8.8.8.8", "10.1.1.1"]}
    )
    with pytest.raises(ValidationFailed):
        domain.check_url(url, allow_loopback=False, resolve=resolve)


def test_public_https_is_allowed_and_loopback_only_where_allowed() -> None:
    resolve = _resolver({"hooks.example.sn": ["8.8.4.4"], "localhost": ["127.0.0.1", "::1"]})
    ok = domain.check_url("https://hooks.example.sn/t", allow_loopback=False, resolve=resolve)
    assert ok == "https://hooks.example.sn/t"
    assert domain.check_url("http://localhost:8001/h", allow_loopback=True, resolve=resolve)
    with pytest.raises(ValidationFailed):
        domain.check_url("http://localhost:8001/h", allow_loopback=False, resolve=resolve)
    with pytest.raises(ValidationFailed):  # private stays refused even where loopback is fine
        domain.check_url("https://10.0.0.1/h", allow_loopback=True, resolve=resolve)


def test_retry_delay_grows_exponentially_with_bounded_jitter() -> None:
    delays = [domain.retry_delay(n, base=10, cap=3600, jitter=0.999) for n in range(1, 12)]
    assert delays[:4] == pytest.approx([10, 20, 40, 80], rel=1e-3)
    assert max(delays) <= 3600
    for n in range(1, 10):
        low = domain.retry_delay(n, base=10, cap=3600, jitter=0.0)
        assert low == pytest.approx(min(3600, 10 * 2 ** (n - 1)) / 2)
