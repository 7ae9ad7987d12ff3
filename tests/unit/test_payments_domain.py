"""Payment state machine and callback signatures, without a database."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from teranga.platform.errors import Unauthorized
from teranga.ticketing.payments import signing
from teranga.ticketing.payments.domain import (
    PaymentStatus,
    ProviderState,
    Transition,
    apply_provider_status,
    is_paid,
    refundable_xof,
    status_after_refund,
)
from teranga.ticketing.payments.providers.http import as_int_xof
from teranga.ticketing.payments.providers.wave import WaveProvider

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
TS = int(NOW.timestamp())


def step(current: PaymentStatus, observed: ProviderState, amount: int = 1000) -> Transition:
    return apply_provider_status(
        current,
        observed,
        expected_amount_xof=1000,
        expected_currency="XOF",
        observed_amount_xof=amount,
        observed_currency="XOF",
    )


def test_transitions() -> None:
    assert step(PaymentStatus.PENDING, ProviderState.PENDING).changed is False
    ok = step(PaymentStatus.PENDING, ProviderState.SUCCEEDED)
    assert (ok.new_status, ok.fulfil) == (PaymentStatus.SUCCEEDED, True)
    failed = step(PaymentStatus.PENDING, ProviderState.FAILED)
    assert (failed.new_status, failed.release) == (PaymentStatus.FAILED, True)
    assert step(PaymentStatus.PENDING, ProviderState.EXPIRED).new_status is PaymentStatus.EXPIRED
    # A late failure after success changes nothing.
    assert step(PaymentStatus.SUCCEEDED, ProviderState.FAILED).changed is False
    # Money taken after we gave up still counts (ticketing decides re-attach or refund).
    late = step(PaymentStatus.EXPIRED, ProviderState.SUCCEEDED)
    assert (late.new_status, late.reason) == (PaymentStatus.SUCCEEDED, "late_success")
    assert step(PaymentStatus.EXPIRED, ProviderState.FAILED).changed is False
    mismatch = step(PaymentStatus.PENDING, ProviderState.SUCCEEDED, amount=999)
    assert (mismatch.new_status, mismatch.fulfil) == (PaymentStatus.NEEDS_REVIEW, False)


def test_refund_arithmetic() -> None:
    assert status_after_refund(1000, 400) is PaymentStatus.PARTIALLY_REFUNDED
    assert status_after_refund(1000, 1000) is PaymentStatus.REFUNDED
    assert refundable_xof(PaymentStatus.PARTIALLY_REFUNDED, 1000, 400) == 600
    assert refundable_xof(PaymentStatus.PENDING, 1000, 0) == 0


@given(
    st.lists(st.sampled_from(list(ProviderState)), max_size=12),
    st.lists(st.sampled_from([1000, 1000, 1000, 10]), min_size=12, max_size=12),
)
def test_state_machine_is_monotonic(observed: list[ProviderState], amounts: list[int]) -> None:
    """Whatever the order of statuses: fulfil at most once, never leave paid or review."""
    status = PaymentStatus.PENDING
    fulfilled = 0
    for obs, amount in zip(observed, amounts, strict=False):
        t = step(status, obs, amount)
        if is_paid(status) or status is PaymentStatus.NEEDS_REVIEW:
            assert not t.changed
        fulfilled += t.fulfil
        status = t.new_status
    assert fulfilled <= 1
    assert fulfilled == (status is PaymentStatus.SUCCEEDED)


def test_amount_parsing_is_whole_francs_only() -> None:
    assert as_int_xof("1500") == 1500
    assert as_int_xof("1500.00") == 1500
    assert as_int_xof(1500) == 1500
    assert as_int_xof("1500.5") is None
    assert as_int_xof(True) is None
    assert as_int_xof("-5") is None


def verify(header: str, body: bytes, secrets: list[str] | None = None) -> int:
    return signing.verify(
        header,
        body,
        secrets=secrets or ["s3cret"],
        now=NOW,
        tolerance_seconds=300,
        separator=b"",
    )


def test_signature_accepts_rotation_and_rejects_staleness() -> None:
    body = b'{"id":"EV_1"}'
    good = signing.header("s3cret", TS, body, separator=b"")
    assert verify(good, body) == TS
    old_and_new = f"{good},v1={'0' * 64}"
    assert verify(old_and_new, body, ["other", "s3cret"]) == TS
    for bad in (
        "",
        "t=abc,v1=00",
        signing.header("s3cret", TS - 301, body, separator=b""),
        signing.header("s3cret", TS, body, separator=b"."),  # Stripe-style base string
    ):
        with pytest.raises(Unauthorized):
            verify(bad, body)
    with pytest.raises(Unauthorized):
        verify(good, body, [""])  # no secret configured: fail closed


@given(st.binary(min_size=1, max_size=200), st.data())
def test_a_flipped_byte_breaks_the_signature(body: bytes, data: st.DataObject) -> None:
    header = signing.header("s3cret", TS, body, separator=b"")
    i = data.draw(st.integers(0, len(body) - 1))
    flipped = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
    with pytest.raises(Unauthorized):
        verify(header, flipped)


def test_wave_shared_secret_strategy() -> None:
    with httpx.Client() as client:
        wave = WaveProvider(
            client,
            api_key="k",
            webhook_secrets=["new-secret", "old-secret"],
            webhook_strategy="shared_secret",
        )
        body = b'{"id":"EV_1","type":"checkout.session.completed","data":{"id":"cos-1"}}'
        for token in ("new-secret", "old-secret"):
            hint = wave.verify_callback({"Authorization": f"Bearer {token}"}, body, now=NOW)
            assert (hint.dedupe_key, hint.provider_ref) == ("EV_1", "cos-1")
            assert hint.status_hint is ProviderState.SUCCEEDED
        for headers in ({}, {"Authorization": "Bearer guessed"}, {"Authorization": "new-secret"}):
            with pytest.raises(Unauthorized):
                wave.verify_callback(headers, body, now=NOW)
