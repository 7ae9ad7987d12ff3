"""Transport API and journey page over HTTP (public plan, operator import, French page)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from tests.factories import app_container, bearer, make_principal_token, make_tenant


def _zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)
    return buf.getvalue()


def test_operator_imports_then_public_plans(client: TestClient, small_gtfs: Path) -> None:
    container = app_container(client)
    tid = make_tenant(container, container.settings.default_tenant)
    data = _zip(small_gtfs)
    files = {"file": ("dkr.zip", data, "application/zip")}
    assert client.post("/api/v1/transport/feeds", files=files).status_code == 401
    box = bearer(make_principal_token(container, tid, "box-office"))
    assert client.post("/api/v1/transport/feeds", files=files, headers=box).status_code == 403
    op = bearer(make_principal_token(container, tid, "transport-operator"))
    r = client.post("/api/v1/transport/feeds", files=files, headers=op)
    assert r.status_code == 200, r.text
    # "unchanged" when another test of this session imported it already (PG is session-wide)
    assert r.json()["status"] in ("imported", "unchanged")
    assert r.json()["usable"] is True
    again = client.post("/api/v1/transport/feeds", files=files, headers=op)
    assert again.json()["status"] == "unchanged"
    feeds = client.get("/api/v1/transport/feeds", headers=op).json()
    # (the PostgreSQL database is shared by the session: other tests may add feeds)
    assert "dkr" in [f["feed_id"] for f in feeds]

    plan = client.get(
        "/api/v1/transport/plan",
        params={"from": "dkr:TER01", "to": "dakar-arena", "depart": "2026-11-02T08:00"},
    )
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert body["journeys"][0]["legs"][0]["from"]["stop_id"] == "dkr:TER01"
    assert body["journeys"][0]["departure"].startswith("2026-11-02T08:")
    bad = client.get(
        "/api/v1/transport/plan", params={"from": "TER01", "to": "TER13", "depart": "demain"}
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_failed"
    missing = client.get(
        "/api/v1/transport/plan",
        params={"from": "zzz-nowhere", "to": "TER13", "depart": "2026-11-02T08:00"},
    )
    assert missing.status_code == 404
    assert set(missing.json()) >= {"code", "message"}
    stops = client.get("/api/v1/transport/stops", params={"q": "diamniadio"}).json()
    assert any(s["stop_id"] == "dkr:TER13" for s in stops)

    export = client.get("/api/v1/transport/export.zip", headers=op)
    assert export.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(export.content)).namelist()
    assert {"stops.txt", "stop_times.txt", "frequencies.txt"} <= set(names)

    page = client.get(
        "/transport",
        params={"from": "Gare TER Dakar", "to": "dakar-arena", "when": "2026-11-02T08:00"},
        headers={"Accept-Language": "fr"},
    )
    assert page.status_code == 200
    html = page.text
    assert "Se rendre sur les sites" in html
    assert "<svg" in html
    assert "<polyline" in html
    assert "Gare TER Diamniadio" in html
    assert len(page.content) < 100_000
    empty = client.get("/transport")
    assert empty.status_code == 200
    assert "Trouver un trajet" in empty.text


def test_other_tenant_operator_cannot_see_feeds(client: TestClient, small_gtfs: Path) -> None:
    container = app_container(client)
    a = make_tenant(container)
    b = make_tenant(container)
    op_a = bearer(make_principal_token(container, a, "transport-operator"))
    op_b = bearer(make_principal_token(container, b, "transport-operator"))
    files = {"file": ("mine.zip", _zip(small_gtfs), "application/zip")}
    assert client.post("/api/v1/transport/feeds", files=files, headers=op_a).status_code == 200
    assert client.get("/api/v1/transport/feeds", headers=op_b).json() == []
    export = client.get("/api/v1/transport/export.zip", headers=op_b)
    stops = zipfile.ZipFile(io.BytesIO(export.content)).read("stops.txt").decode()
    assert stops.strip().count("\n") == 0  # header only: nothing of tenant a


def test_organiser_publishes_shuttles_used_by_the_planner(
    client: TestClient, small_gtfs: Path
) -> None:
    container = app_container(client)
    tid = make_tenant(container, container.settings.default_tenant)
    op = bearer(make_principal_token(container, tid, "transport-operator"))
    files = {"file": ("dkr.zip", _zip(small_gtfs), "application/zip")}
    assert client.post("/api/v1/transport/feeds", files=files, headers=op).status_code == 200
    org = bearer(make_principal_token(container, tid, "organiser-admin"))
    line = {
        "id": "N9",
        "name": "Gare TER Diamniadio – Hôtel Lac Rose",
        "stops": [
            {"id": "GARE", "name": "Gare TER Diamniadio (navette)", "lat": 14.7226,
             "lon": -17.1891, "minutes": 0},
            {"id": "HOTEL", "name": "Hôtel Lac Rose", "lat": 14.60, "lon": -17.10, "minutes": 35},
        ],
        "start_date": "2026-10-31",
        "end_date": "2026-11-13",
        "first": "06:00",
        "last": "23:00",
        "headway_min": 20,
    }  # fmt: skip
    box = bearer(make_principal_token(container, tid, "box-office"))
    body = {"lines": [line]}
    assert client.put("/api/v1/transport/shuttles", json=body, headers=box).status_code == 403
    bad = {"lines": [{**line, "stops": [line["stops"][0], {**line["stops"][1], "minutes": 0}]}]}
    r = client.put("/api/v1/transport/shuttles", json=bad, headers=org)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    r = client.put("/api/v1/transport/shuttles", json=body, headers=org)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "imported"
    assert r.json()["errors"] == 0
    plan = client.get(
        "/api/v1/transport/plan",
        params={"from": "dkr:TER01", "to": "shuttles:HOTEL", "depart": "2026-11-02T08:00"},
    ).json()
    legs = plan["journeys"][0]["legs"]
    assert legs[-1]["route"]["id"] == "shuttles:N9"
    assert any(leg["mode"] == "walk" for leg in legs)  # TER platform -> shuttle stop
    gtfs = client.get("/api/v1/transport/shuttles.zip")
    assert gtfs.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(gtfs.content))
    assert "frequencies.txt" in z.namelist()
    assert "1200" in z.read("frequencies.txt").decode()


def test_journey_url_for_a_ticket() -> None:
    import datetime as dt

    from teranga.transport.api import journey_url

    start = dt.datetime(2026, 11, 2, 18, 30, tzinfo=dt.UTC)
    assert journey_url("dakar-arena", start) == (
        "/transport?to=dakar-arena&mode=arrive&when=2026-11-02T17%3A45"
    )
    assert journey_url("iba-mar-diop") == "/transport?to=iba-mar-diop"
