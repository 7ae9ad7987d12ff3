"""Pure ticketing rules: short codes, the signed payload, base45, state machines."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import segno
from hypothesis import example, given
from hypothesis import strategies as st

from teranga.ticketing import domain as d

KEY = d.generate_signing_key()
CLAIMS = d.TicketClaims(
    key_id=KEY.key_id,
    ticket_id=uuid.uuid4(),
    session_tag=d.session_tag(uuid.uuid4()),
    zone_no=2,
    category_no=3,
    seat_no=1234,
    valid_from=dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC),
    valid_until=dt.datetime(2026, 11, 2, 21, 0, tzinfo=dt.UTC),
)


def test_payload_is_109_bytes_and_round_trips() -> None:
    payload = d.sign_claims(CLAIMS, KEY.private_raw)
    assert len(payload) == d.PAYLOAD_LEN == 109
    assert payload[0] == 1
    assert int.from_bytes(payload[1:5], "big") == KEY.key_id
    assert payload[5:21] == CLAIMS.ticket_id.bytes
    assert d.verify_payload(payload, {KEY.key_id: KEY.public_raw}) == CLAIMS


def test_qr_is_small() -> None:
    text = d.b45encode(d.sign_claims(CLAIMS, KEY.private_raw))
    assert len(text) == 164
    qr = segno.make_qr(text, error="l", boost_error=False)
    assert qr.version <= 6


@given(st.integers(0, d.PAYLOAD_LEN - 1), st.integers(1, 255))
@example(pos=41, flip=250)  # validity window past year 9999: was a ValueError, not BadPayload
def test_any_flipped_byte_breaks_the_payload(pos: int, flip: int) -> None:
    payload = bytearray(d.sign_claims(CLAIMS, KEY.private_raw))
    payload[pos] ^= flip
    with pytest.raises(d.BadPayload):
        d.verify_payload(bytes(payload), {KEY.key_id: KEY.public_raw})


def test_unknown_key_version_and_length_are_rejected() -> None:
    payload = d.sign_claims(CLAIMS, KEY.private_raw)
    other = d.generate_signing_key()
    with pytest.raises(d.BadPayload, match="unknown_key"):
        d.verify_payload(payload, {other.key_id: other.public_raw})
    with pytest.raises(d.BadPayload, match="length"):
        d.verify_payload(payload[:-1], {KEY.key_id: KEY.public_raw})
    forged = d.sign_claims(CLAIMS, other.private_raw)  # right key id, wrong signer
    with pytest.raises(d.BadPayload, match="signature"):
        d.verify_payload(forged, {KEY.key_id: KEY.public_raw})


@given(st.binary(max_size=200))
def test_base45_round_trips(data: bytes) -> None:
    text = d.b45encode(data)
    assert set(text) <= set(d.B45)
    assert d.b45decode(text) == data


def test_base45_rfc9285_vectors() -> None:
    assert d.b45encode(b"AB") == "BB8"
    assert d.b45encode(b"Hello!!") == "%69 VD92EX0"
    assert d.b45decode("QED8WEX0") == b"ietf!"
    with pytest.raises(d.BadPayload):
        d.b45decode("GGW")  # 65535 < value: invalid
    for bad in ("A", "ABCD", "bb8", "BB\u00e9", ":::", "BB\x00"):  # length, case, alphabet
        with pytest.raises(d.BadPayload):
            d.b45decode(bad)


def test_short_code_shape_and_check() -> None:
    code = d.new_short_code()
    assert len(code) == 10
    assert set(code) <= set(d.CODE_ALPHABET)
    assert not set("01IO") & set(d.CODE_ALPHABET)
    assert d.code_is_well_formed(code)
    assert d.code_is_well_formed(d.normalise_code(d.format_code(code).lower()))


@given(st.text(alphabet=d.CODE_ALPHABET, min_size=9, max_size=9), st.data())
def test_luhn_mod_32_catches_single_errors_and_adjacent_swaps(
    body: str, data: st.DataObject
) -> None:
    code = body + d.luhn_mod_n_check(body)
    i = data.draw(st.integers(0, 9))
    wrong = data.draw(st.sampled_from([c for c in d.CODE_ALPHABET if c != code[i]]))
    assert not d.code_is_well_formed(code[:i] + wrong + code[i + 1 :])
    j = data.draw(st.integers(0, 8))
    # Luhn mod N's one blind spot: swapping the first and last symbols ("2" and "Z").
    if code[j] != code[j + 1] and {code[j], code[j + 1]} != {"2", "Z"}:
        swapped = code[:j] + code[j + 1] + code[j] + code[j + 2 :]
        assert not d.code_is_well_formed(swapped)


def test_state_machines_are_monotonic() -> None:
    assert d.order_can(d.OrderStatus.PENDING, d.OrderStatus.PAID)
    assert not d.order_can(d.OrderStatus.PAID, d.OrderStatus.PENDING)
    assert not d.order_can(d.OrderStatus.CANCELLED, d.OrderStatus.PAID)
    with pytest.raises(d.IllegalTransition):
        d.check_order_transition(d.OrderStatus.REFUNDED, d.OrderStatus.PAID)
    assert d.hold_can(d.HoldStatus.EXPIRED, d.HoldStatus.ORDERED)  # late payment re-attached
    assert not d.hold_can(d.HoldStatus.RELEASED, d.HoldStatus.ACTIVE)
    with pytest.raises(d.IllegalTransition):
        d.check_hold_transition(d.HoldStatus.ORDERED, d.HoldStatus.ACTIVE)


def test_money_and_caps() -> None:
    assert d.order_total([1000, 0, 5000]) == 6000
    with pytest.raises(ValueError, match="integer"):
        d.order_total([1000, -1])
    with pytest.raises(ValueError, match="integer"):
        d.order_total([1.5])  # type: ignore[list-item]
    limits = d.Limits(per_order=4, per_person=4)
    assert d.check_person_cap(limits, 2, 2)
    assert not d.check_person_cap(limits, 3, 2)
    assert not d.check_person_cap(d.Limits(2, None), 0, 3)
    assert d.hold_is_live(d.HoldStatus.ACTIVE, CLAIMS.valid_until, CLAIMS.valid_from)
    assert not d.hold_is_live(d.HoldStatus.ACTIVE, CLAIMS.valid_from, CLAIMS.valid_from)
