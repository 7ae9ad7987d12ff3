"""Webhooks end to end: committed events -> outbox relay -> dispatcher -> a real HTTP receiver.

The receiver is a real HTTP server on loopback (http.server in a thread); the database and
broker are the real ones of the ``container`` fixture (SQLite and PostgreSQL). Signatures are
checked with a verifier written here from the Standard Webhooks specification, independent
of teranga.webhooks.domain.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from teranga.container import Container
from teranga.platform.errors import NotFound, ValidationFailed
from teranga.platform.relay import OutboxRelay
from teranga.results import api as results
from teranga.web import errors
from teranga.web.app import create_app
from teranga.webhooks import service
from teranga.webhooks import web as webhooks_web
from teranga.webhooks.domain import retry_delay
from teranga.webhooks.models import WebhookEndpoint, WebhookIngested
from teranga.webhooks.worker import WebhookWorker
from tests.factories import bearer, make_principal_token, make_tenant

LOOPBACK = service.UrlPolicy(allow_loopback=True)
JITTER = 0.5


# -- a real receiving server ----------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    base_url: str
    requests: list[Received] = field(default_factory=list)
    # Status answered per path (default 200); a list is consumed one status per request.
    statuses: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.on(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        return self.on(path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = state["r"]
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with rec.lock:
                rec.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                plan = rec.statuses.get(self.path, [])
                status = plan.pop(0) if len(plan) > 1 else (plan[0] if plan else 200)
            answer = b"x" * 5000 if status >= 500 else b"ok"
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("location", "/redirected")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["r"]
    finally:
        server.shutdown()
        server.server_close()


# -- a verifier written from the spec ---------------------------------------------------------
def spec_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks v1: HMAC-SHA256(base64-decoded whsec_ key, "id.timestamp.body")."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    signed = b".".join(
        [headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body]
    )
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    for entry in headers["webhook-signature"].split(" "):
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig, want):
            return True
    return False


# -- helpers ----------------------------------------------------------------------------------
def endpoint(
    container: Container, tid: uuid.UUID, url: str, types: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    with container.uow(tid) as uow:
        return service.create_endpoint(
            uow,
            url=url,
            event_types=types or ["*"],
            description="test",
            policy=LOOPBACK,
            actor_id=None,
        )


def order_paid(container: Container, tid: uuid.UUID) -> dict[str, Any]:
    payload = {
        "order_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "tickets": [str(uuid.uuid4()), str(uuid.uuid4())],
    }
    with container.uow(tid) as uow:
        uow.publish("ticketing.order.paid", payload)
    return payload


def fast_worker(container: Container, **kw: Any) -> WebhookWorker:
    options: dict[str, Any] = {
        "base_delay": 0.05,
        "max_delay": 1.0,
        "timeout": 5.0,
        "jitter": lambda: JITTER,
        "policy": LOOPBACK,
    }
    options.update(kw)
    return WebhookWorker(container, **options)


async def pump(container: Container, worker: WebhookWorker) -> tuple[int, int]:
    """Relay committed outbox rows to the broker, then one worker pass."""
    await OutboxRelay(container.engine, container.broker).relay_once()
    return await worker.run_once()


@pytest.fixture
async def broker(container: Container) -> Any:
    await container.broker.start()
    yield container.broker
    await container.broker.close()


def deliveries(container: Container, tid: uuid.UUID, endpoint_id: uuid.UUID) -> list[Any]:
    with container.uow(tid) as uow:
        return list(service.list_deliveries(uow, endpoint_id=endpoint_id))


# -- tests ------------------------------------------------------------------------------------
async def test_committed_event_reaches_the_endpoint_once_signed(
    container: Container, broker: Any, receiver: Receiver
) -> None:
    tid = make_tenant(container)
    ep, secret = endpoint(container, tid, receiver.url("/a"), ["ticketing.order.paid"])
    payload = order_paid(container, tid)
    with container.uow(tid) as uow:  # a rolled-back event must never be delivered
        uow.publish("ticketing.order.paid", {"order_id": str(uuid.uuid4())})
        uow.rollback()
    worker = fast_worker(container)
    created, sent = await pump(container, worker)
    assert created >= 1
    assert sent >= 1
    await pump(container, worker)
    await worker.stop()
    fresh = fast_worker(container)  # a new process starts with a full rescan: nothing new
    await pump(container, fresh)
    await fresh.stop()

    [req] = receiver.on("/a")
    assert spec_verify(secret, req.headers, req.body)
    assert not spec_verify(secret, req.headers, req.body.replace(b"order", b"ordre"))
    body = json.loads(req.body)
    assert body["type"] == "ticketing.order.paid"
    assert body["data"] == payload
    assert dt.datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert req.headers["webhook-id"].startswith("msg_")
    assert req.headers["content-type"] == "application/json"
    [d] = deliveries(container, tid, ep.id)
    assert (d.status, d.attempts, d.last_status_code) == ("succeeded", 1, 200)
    assert d.event_id == req.headers["webhook-id"]


async def test_failing_endpoint_backs_off_then_fails_and_redelivery_works(
    container: Container, broker: Any, receiver: Receiver
) -> None:
    tid = make_tenant(container)
    ep, secret = endpoint(container, tid, receiver.url("/down"))
    receiver.statuses["/down"] = [500]
    order_paid(container, tid)
    worker = fast_worker(container, max_attempts=3)
    await pump(container, worker)
    gaps = []
    for _ in range(200):
        [d] = deliveries(container, tid, ep.id)
        if d.status == "failed":
            break
        if d.next_attempt_at and d.last_attempt_at and d.attempts:
            gaps.append((d.attempts, (d.next_attempt_at - d.last_attempt_at).total_seconds()))
        await asyncio.sleep(0.02)
        await worker.run_once()
    assert d.status == "failed"
    assert d.attempts == 3
    assert d.last_status_code == 500
    assert d.last_error == "HTTP 500"
    assert d.last_response is not None
    assert len(d.last_response) <= 512  # truncated log
    # Exponential backoff with jitter: 0.05 s then 0.1 s, each scaled by (0.5 + 0.5 * jitter).
    expected = [
        (n, pytest.approx(retry_delay(n, base=0.05, cap=1.0, jitter=JITTER), abs=1e-5))
        for n in (1, 2)
    ]
    assert sorted(set(gaps)) == expected
    assert expected[1][1] == pytest.approx(2 * 0.05 * 0.75)
    reqs = receiver.on("/down")
    assert len(reqs) == 3
    assert len({r.headers["webhook-id"] for r in reqs}) == 1  # same id on every retry
    assert all(spec_verify(secret, r.headers, r.body) for r in reqs)

    receiver.statuses["/down"] = [200]
    with container.uow(tid) as uow:
        service.redeliver(uow, delivery_id=d.id, actor_id=None)
    worker.kick()  # what the API's after-commit hook does (it believes nothing is due yet)
    await worker.run_once()
    await worker.stop()
    [d] = deliveries(container, tid, ep.id)
    assert (d.status, d.attempts) == ("succeeded", 1)
    assert len(receiver.on("/down")) == 4
    assert receiver.on("/down")[-1].headers["webhook-id"] == reqs[0].headers["webhook-id"]


async def test_paused_endpoint_gets_nothing(
    container: Container, broker: Any, receiver: Receiver
) -> None:
    tid = make_tenant(container)
    paused, _ = endpoint(container, tid, receiver.url("/paused"))
    endpoint(container, tid, receiver.url("/live"))
    with container.uow(tid) as uow:
        service.update_endpoint(
            uow, endpoint_id=paused.id, changes={"status": "paused"}, policy=LOOPBACK, actor_id=None
        )
    order_paid(container, tid)
    worker = fast_worker(container)
    await pump(container, worker)
    await worker.stop()
    assert len(receiver.on("/live")) == 1
    assert receiver.on("/paused") == []
    assert deliveries(container, tid, paused.id) == []


async def test_tenant_a_never_receives_tenant_b_events(
    container: Container, broker: Any, receiver: Receiver
) -> None:
    a, b = make_tenant(container), make_tenant(container)
    ep_a, _ = endpoint(container, a, receiver.url("/a"))
    ep_b, _ = endpoint(container, b, receiver.url("/b"))
    with container.uow(a) as uow:
        assert [e.id for e in service.list_endpoints(uow)] == [ep_a.id]
        with pytest.raises(NotFound):
            service.get_endpoint(uow, ep_b.id)
    sent = order_paid(container, b)
    worker = fast_worker(container)
    await pump(container, worker)
    await worker.stop()
    assert receiver.on("/a") == []
    [req] = receiver.on("/b")
    assert json.loads(req.body)["data"]["order_id"] == sent["order_id"]


async def test_payloads_carry_no_personal_data(
    container: Container, broker: Any, receiver: Receiver
) -> None:
    slug = f"t-{uuid.uuid4().hex[:10]}"
    tid = make_tenant(container, slug)
    ep, _ = endpoint(container, tid, receiver.url("/pii"))
    name, phone, email = "Awa Diop", "+221771234567", "awa.diop@example.sn"
    with container.uow(tid) as uow:
        # A results unit message carries competitors' names; a refund a free-text reason.
        uow.publish(
            results.unit_topic(slug, "JUDWM52-----------FNL-000100--"),
            {
                "code": "JUDWM52-----------FNL-000100--",
                "sport": "JUD",
                "name": "Women -52 kg Final",
                "official": True,
                "version": 3,
                "upsert": [{"participant": "1234", "name": name, "noc": "SEN", "rank": 1}],
                "leader": {"name": name, "noc": "SEN"},
            },
        )
        uow.publish(
            "ticketing.payment.refunded",
            {
                "payment_id": str(uuid.uuid4()),
                "order_id": str(uuid.uuid4()),
                "amount_xof": 5000,
                "provider": "wave",
                "reason": f"{name} asked, call {phone} or {email}",
                "buyer_phone": phone,
                "status": f"refunded for {name}",
            },
        )
    worker = fast_worker(container)
    await pump(container, worker)
    await worker.stop()
    reqs = receiver.on("/pii")
    assert sorted(json.loads(r.body)["type"] for r in reqs) == [
        "results.unit.official",
        "ticketing.payment.refunded",
    ]
    code_like = re.compile(r"[A-Za-z0-9_.:+-]*")
    for r in reqs:
        for secret_bit in (name, "Diop", phone, email, "Final"):
            assert secret_bit.encode() not in r.body
        body = json.loads(r.body)
        for value in _leaves(body["data"]):
            assert not isinstance(value, str) or code_like.fullmatch(value), value
    assert len(deliveries(container, tid, ep.id)) == 2


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


async def test_endpoint_only_receives_events_raised_after_it_was_created(
    container: Container, broker: Any, receiver: Receiver
) -> None:
    tid = make_tenant(container)
    order_paid(container, tid)
    await OutboxRelay(container.engine, container.broker).relay_once()
    endpoint(container, tid, receiver.url("/late"))
    worker = fast_worker(container)
    await pump(container, worker)
    await worker.stop()
    assert receiver.on("/late") == []


def test_ssrf_targets_are_refused_with_422(container: Container) -> None:
    tid = make_tenant(container)
    token = bearer(make_principal_token(container, tid, "developer"))
    with TestClient(create_app(container.settings, container=container)) as client:
        for url in (
            "https://10.1.2.3/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.1.1]/x",
            "https://100.64.0.1/cgnat",
            "http://198.51.100.7/plain-http",
            "ftp://example.sn/x",
            "https://user:pw@127.0.0.1/x",
        ):
            r = client.post(
                "/api/v1/webhooks/endpoints",
                json={"url": url, "event_types": ["*"]},
                headers=token,
            )
            assert r.status_code == 422, url
            assert r.json()["code"] == "validation_failed"
    # In production, loopback is refused as well.
    prod = service.UrlPolicy.for_env("prod")
    for url in ("https://127.0.0.1/hook", "http://127.0.0.1:8000/hook", "https://10.0.0.1/x"):
        with pytest.raises(ValidationFailed):
            prod.check(url)
    with container.uow(tid) as uow, pytest.raises(ValidationFailed):
        service.create_endpoint(
            uow,
            url="https://169.254.169.254/",
            event_types=["*"],
            description="",
            policy=prod,
            actor_id=None,
        )


def test_prod_settings_refuse_private_endpoints_through_the_api(container: Container) -> None:
    # The same database and keys with production settings, serving only the webhooks API:
    # the full production app also demands a production privacy register, not the topic here.
    prod = dataclasses.replace(
        container,
        settings=container.settings.model_copy(update={"env": "prod"}),
        extras={"kms": container.extras["kms"]},
    )
    app = FastAPI()
    app.state.container, app.state.settings = prod, prod.settings
    errors.install(app)
    app.include_router(webhooks_web.router)
    tid = make_tenant(prod)
    token = bearer(make_principal_token(prod, tid, "developer"))
    with TestClient(app) as client:
        for url in ("https://10.0.0.8/h", "https://169.254.169.254/", "https://127.0.0.1/h"):
            r = client.post(
                "/api/v1/webhooks/endpoints",
                json={"url": url, "event_types": ["*"]},
                headers=token,
            )
            assert r.status_code == 422, (url, r.text)
            assert r.json()["code"] == "validation_failed"


def test_api_lifecycle_worker_in_lifespan_and_secret_shown_once(
    container: Container, receiver: Receiver
) -> None:
    tid = make_tenant(container)
    dev = bearer(make_principal_token(container, tid, "developer"))
    with TestClient(create_app(container.settings, container=container)) as client:
        r = client.post(
            "/api/v1/webhooks/endpoints",
            json={"url": receiver.url("/api"), "event_types": ["ticketing.order.paid"]},
            headers=dev,
        )
        assert r.status_code == 201, r.text
        created = r.json()
        secret = created["secret"]
        assert secret.startswith("whsec_")
        eid = created["id"]

        # Committed through a unit of work: the app's relay and worker deliver it.
        order_paid(container, tid)
        [req] = receiver.wait_for("/api", 1)
        assert spec_verify(secret, req.headers, req.body)

        r = client.post(f"/api/v1/webhooks/endpoints/{eid}/test", headers=dev)
        assert r.status_code == 202
        assert r.json()["event_type"] == "ping"
        reqs = receiver.wait_for("/api", 2)
        assert json.loads(reqs[1].body)["type"] == "ping"

        listing = client.get(f"/api/v1/webhooks/endpoints/{eid}/deliveries", headers=dev)
        assert listing.status_code == 200
        assert {d["event_type"] for d in listing.json()} == {"ticketing.order.paid", "ping"}
        did = listing.json()[0]["id"]
        r = client.post(f"/api/v1/webhooks/deliveries/{did}/redeliver", headers=dev)
        assert r.status_code == 202
        receiver.wait_for("/api", 3)

        # Rotation: a new secret, once; both secrets sign during the grace period.
        r = client.post(f"/api/v1/webhooks/endpoints/{eid}/rotate-secret", headers=dev)
        new_secret = r.json()["secret"]
        assert new_secret != secret
        client.post(f"/api/v1/webhooks/endpoints/{eid}/test", headers=dev)
        last = receiver.wait_for("/api", 4)[-1]
        assert spec_verify(new_secret, last.headers, last.body)
        assert spec_verify(secret, last.headers, last.body)

        others = [
            client.get("/api/v1/webhooks/endpoints", headers=dev),
            client.get(f"/api/v1/webhooks/endpoints/{eid}", headers=dev),
            client.patch(
                f"/api/v1/webhooks/endpoints/{eid}", json={"status": "paused"}, headers=dev
            ),
            client.get(f"/api/v1/webhooks/endpoints/{eid}/deliveries", headers=dev),
        ]
        for resp in others:
            assert resp.status_code == 200, resp.text
            assert "secret" not in resp.text.replace("previous_secret_until", "")
            assert secret not in resp.text
            assert new_secret not in resp.text
        assert others[2].json()["status"] == "paused"
        r = client.post(f"/api/v1/webhooks/endpoints/{eid}/test", headers=dev)
        assert r.status_code == 409

        # Read-only developers' tokens cannot write; unknown types are a clear 422.
        ro = bearer(make_principal_token(container, tid, "developer", scopes=["*.read"]))
        r = client.post(
            "/api/v1/webhooks/endpoints",
            json={"url": receiver.url("/x"), "event_types": ["*"]},
            headers=ro,
        )
        assert r.status_code == 403
        r = client.post(
            "/api/v1/webhooks/endpoints",
            json={"url": receiver.url("/x"), "event_types": ["nope.nope"]},
            headers=dev,
        )
        assert r.status_code == 422
        assert r.json()["code"] == "validation_failed"

        # At rest the secrets are sealed, never in clear.
        with container.uow(tid) as uow:
            row = uow.session.get(WebhookEndpoint, uuid.UUID(eid))
            assert row is not None
            assert row.previous_secret_sealed is not None
            for key in (new_secret, secret):
                raw = key.removeprefix("whsec_").encode()
                assert raw not in row.secret_sealed
                assert raw not in row.previous_secret_sealed

        assert client.delete(f"/api/v1/webhooks/endpoints/{eid}", headers=dev).status_code == 204
        assert client.get(f"/api/v1/webhooks/endpoints/{eid}", headers=dev).status_code == 404


def test_developer_page_is_public_and_french(container: Container) -> None:
    with TestClient(create_app(container.settings, container=container)) as client:
        r = client.get("/developpeurs")
        assert r.status_code == 200
        assert "Construire sur Teranga" in r.text
        assert "/api/docs" in r.text
        assert "webhook-signature" in r.text
        assert len(r.content) < 100_000
        types = client.get("/api/v1/webhooks/event-types").json()
        assert "results.medals.updated" in {t["name"] for t in types}


async def test_old_finished_deliveries_and_the_ingest_ledger_are_pruned(
    container: Container, broker: Any, receiver: Receiver
) -> None:
    tid = make_tenant(container)
    ok, _ = endpoint(container, tid, receiver.url("/ok"))
    down, _ = endpoint(container, tid, receiver.url("/down"))
    receiver.statuses["/down"] = [500]
    order_paid(container, tid)
    worker = fast_worker(container, base_delay=60.0)
    await pump(container, worker)
    await worker.stop()
    assert [d.status for d in deliveries(container, tid, ok.id)] == ["succeeded"]
    assert [d.status for d in deliveries(container, tid, down.id)] == ["pending"]

    # The relay prunes its published rows; a full pass then forgets their ingested ids.
    relay = OutboxRelay(container.engine, container.broker)
    while await relay.relay_once():  # whatever other tests left unrelayed in this database
        pass
    assert relay.prune(now=container.clock.now() + dt.timedelta(days=30)) >= 1
    later = fast_worker(container, keep_deliveries=dt.timedelta(0))
    await later.run_once()
    await later.stop()
    with container.uow() as uow:
        assert uow.session.query(WebhookIngested).count() == 0
    assert deliveries(container, tid, ok.id) == []  # finished: pruned
    assert [d.status for d in deliveries(container, tid, down.id)] == ["pending"]  # kept


async def test_two_workers_racing_deliver_once(
    container: Container, broker: Any, receiver: Receiver
) -> None:
    tid = make_tenant(container)
    ep, _ = endpoint(container, tid, receiver.url("/race"))
    for _ in range(5):
        order_paid(container, tid)
    await OutboxRelay(container.engine, container.broker).relay_once()
    one, two = fast_worker(container), fast_worker(container)
    for _ in range(3):
        await asyncio.gather(one.run_once(), two.run_once())
    await one.stop()
    await two.stop()
    reqs = receiver.on("/race")
    assert len(reqs) == 5
    assert len({r.headers["webhook-id"] for r in reqs}) == 5
    assert {d.status for d in deliveries(container, tid, ep.id)} == {"succeeded"}


async def test_redirects_are_not_followed(
    container: Container, broker: Any, receiver: Receiver
) -> None:
    tid = make_tenant(container)
    ep, _ = endpoint(container, tid, receiver.url("/moved"))
    receiver.statuses["/moved"] = [307]
    order_paid(container, tid)
    worker = fast_worker(container, base_delay=60.0)
    await pump(container, worker)
    await worker.stop()
    assert len(receiver.on("/moved")) == 1
    assert receiver.on("/redirected") == []
    [d] = deliveries(container, tid, ep.id)
    assert (d.status, d.last_status_code, d.last_error) == ("pending", 307, "HTTP 307")
