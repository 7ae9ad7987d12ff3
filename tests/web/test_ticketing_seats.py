"""Seat maps: the public seat listing (JSON API, tenant-scoped) and choosing seats on the map
of the session page (hold exactly those seats; a seat taken meanwhile sends the buyer back
to a refreshed map with a French message)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest

from teranga.config import Settings
from teranga.platform.errors import NotFound
from teranga.ticketing import sales, seatmap
from teranga.ticketing import service as catalogue
from tests.factories import make_tenant
from tests.web.test_ticketing_api import NOW, Api, serve_api

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SEAT_BUTTON = re.compile(r'<button type="button" class="st"[^>]*>')


@pytest.fixture
def api(db_settings: Settings) -> Iterator[Api]:
    yield from serve_api(db_settings)


def _seated(api: Api, *, grids: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """A session with a GA zone and a seated zone: section N (rows A, B x 3 seats, row A
    accessible) and section S (row A x 2 seats), priced 5000 XOF."""
    c, h = api.client, api.admin
    ev = c.post("/api/v1/ticketing/events", json={"name": "Basketball 3x3 — finale"}, headers=h)
    s = c.post(
        f"/api/v1/ticketing/events/{ev.json()['id']}/sessions",
        json={
            "name": "Finale 3x3",
            "starts_at": "2026-11-02T16:00:00Z",
            "ends_at": "2026-11-02T18:00:00Z",
            "sale_starts_at": "2026-10-30T00:00:00Z",
            "venue_name": "Place de l'Obélisque",
            "per_order_limit": 4,
            "per_person_limit": 4,
        },
        headers=h,
    )
    assert s.status_code == 201, s.text
    sid = s.json()["id"]
    ga = c.post(
        f"/api/v1/ticketing/sessions/{sid}/zones",
        json={"name": "Debout", "capacity": 10},
        headers=h,
    ).json()
    grids = grids or [
        {"section": "N", "rows": ["A", "B"], "per_row": 3, "accessible_rows": ["A"]},
        {"section": "S", "rows": ["A"], "per_row": 2},
    ]
    zone = c.post(
        f"/api/v1/ticketing/sessions/{sid}/zones",
        json={"name": "Tribune", "seat_grids": grids},
        headers=h,
    )
    assert zone.status_code == 201, zone.text
    cats = {}
    for name, zid, price in (("Debout", ga["id"], 1000), ("Tribune", zone.json()["id"], 5000)):
        r = c.post(
            f"/api/v1/ticketing/sessions/{sid}/categories",
            json={"zone_id": zid, "name": name, "price_xof": price},
            headers=h,
        )
        assert r.status_code == 201, r.text
        cats[name] = r.json()["id"]
    return {
        "session": sid,
        "ga_zone": ga["id"],
        "zone": zone.json()["id"],
        "ga_cat": cats["Debout"],
        "cat": cats["Tribune"],
    }


def _seats(api: Api, sid: str, **params: str) -> Any:
    r = api.client.get(f"/api/v1/ticketing/sessions/{sid}/seats", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _seat(seats: list[dict[str, Any]], section: str, row: str, label: str) -> str:
    return next(
        s["id"] for s in seats if (s["section"], s["row"], s["label"]) == (section, row, label)
    )


# -- JSON API ---------------------------------------------------------------------------


def test_seat_listing_follows_holds_and_filters(api: Api) -> None:
    ids = _seated(api)
    sid, c = ids["session"], api.client
    seats = _seats(api, sid)
    assert [(s["section"], s["row"], s["label"]) for s in seats] == [
        ("N", "A", "1"),
        ("N", "A", "2"),
        ("N", "A", "3"),
        ("N", "B", "1"),
        ("N", "B", "2"),
        ("N", "B", "3"),
        ("S", "A", "1"),
        ("S", "A", "2"),
    ]
    assert set(seats[0]) == {"id", "zone_id", "section", "row", "label", "accessible", "free"}
    assert [s["accessible"] for s in seats] == [True] * 3 + [False] * 5
    assert all(s["free"] and s["zone_id"] == ids["zone"] for s in seats)

    chosen = [_seat(seats, "N", "B", "2"), _seat(seats, "S", "A", "1")]
    hold = c.post(
        f"/api/v1/ticketing/sessions/{sid}/holds",
        json={"category_id": ids["cat"], "seat_ids": chosen},
    )
    assert hold.status_code == 201, hold.text
    after = _seats(api, sid)
    assert sorted(s["id"] for s in after if not s["free"]) == sorted(chosen)
    # The same seat again: refused, the listing is unchanged.
    again = c.post(
        f"/api/v1/ticketing/sessions/{sid}/holds",
        json={"category_id": ids["cat"], "seat_ids": [chosen[0]]},
    )
    assert again.status_code == 409
    assert again.json()["code"] == "ticketing.seat_taken"

    assert [s["label"] for s in _seats(api, sid, section="S")] == ["1", "2"]
    assert len(_seats(api, sid, zone_id=ids["zone"], section="N")) == 6
    assert _seats(api, sid, zone_id=ids["ga_zone"]) == []
    unknown = c.get(
        f"/api/v1/ticketing/sessions/{sid}/seats", params={"zone_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "ticketing.zone_not_found"
    assert c.get(f"/api/v1/ticketing/sessions/{uuid.uuid4()}/seats").status_code == 404
    bad = c.get(f"/api/v1/ticketing/sessions/{sid}/seats", params={"zone_id": "x"})
    assert bad.status_code == 422

    # Released places are free again.
    assert c.delete(f"/api/v1/ticketing/holds/{hold.json()['id']}").status_code == 200
    assert all(s["free"] for s in _seats(api, sid))

    spec = c.get("/api/v1/openapi.json").json()
    op = spec["paths"]["/api/v1/ticketing/sessions/{session_id}/seats"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"session_id", "zone_id", "section"}


def test_seat_listing_is_tenant_scoped(api: Api) -> None:
    """Another tenant's session, or its zone under our session, is not found."""
    ours = _seated(api)
    other = make_tenant(api.container, f"o-{uuid.uuid4().hex[:10]}")
    with api.container.uow(other) as uow:
        ev = catalogue.create_event(uow, name="Ailleurs")
        s = catalogue.create_session(
            uow,
            event_id=ev.id,
            name="Ailleurs",
            starts_at=NOW + dt.timedelta(days=1),
            ends_at=NOW + dt.timedelta(days=1, hours=2),
            sale_starts_at=NOW - dt.timedelta(days=1),
        )
        z = catalogue.add_zone(
            uow, session_id=s.id, name="Tribune", seats=catalogue.seat_grid("X", ["1"], 4)
        )
    c = api.client
    assert c.get(f"/api/v1/ticketing/sessions/{s.id}/seats").status_code == 404
    assert (
        c.get(f"/api/v1/ticketing/sessions/{s.id}/seats", params={"zone_id": str(z.id)})
    ).status_code == 404
    cross = c.get(
        f"/api/v1/ticketing/sessions/{ours['session']}/seats", params={"zone_id": str(z.id)}
    )
    assert cross.status_code == 404
    # The service refuses it too, whatever the caller.
    with api.container.uow(api.tenant) as uow:
        assert len(seatmap.seat_states(uow, uuid.UUID(ours["session"]))) == 8
        with pytest.raises(NotFound) as err:
            seatmap.seat_states(uow, s.id)
        assert err.value.code == "ticketing.session_not_found"


def test_blocks_split_big_zones_by_section_and_rows() -> None:
    rows = [
        seatmap.RowOutline("N", "A", 100),
        seatmap.RowOutline("N", "B", 100),
        seatmap.RowOutline("N", "C", 100),
        seatmap.RowOutline("S", "A", 10),
        seatmap.RowOutline("S", "B", 500),  # longer than a block: alone
        seatmap.RowOutline("S", "C", 10),
    ]
    got = [(b.section, b.rows) for b in seatmap.blocks(rows, limit=240)]
    assert got == [("N", ("A", "B")), ("N", ("C",)), ("S", ("A",)), ("S", ("B",)), ("S", ("C",))]
    assert seatmap.blocks([]) == []


# -- session page -----------------------------------------------------------------------


def _csrf(api: Api, page: str) -> str:
    match = CSRF.search(api.client.get(page).text)
    assert match
    return match.group(1)


def _buttons(html: str) -> list[dict[str, str]]:
    out = []
    for tag in SEAT_BUTTON.findall(html):
        attrs = {k: unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}
        attrs["disabled"] = "yes" if " disabled" in tag else ""
        out.append(attrs)
    return out


def test_page_offers_best_available_or_the_map(api: Api) -> None:
    ids = _seated(api)
    page = f"/billetterie/seance/{ids['session']}"
    html = api.client.get(page).text
    assert "Meilleures places disponibles" in html
    assert f'href="{page}?plan={ids["cat"]}#plan"' in html
    assert _buttons(html) == []  # the map loads only when asked for
    assert html.count("Choisir sur le plan") == 1  # not offered for the standing zone

    r = api.client.get(page, params={"plan": ids["cat"]})
    assert r.status_code == 200
    html = r.text
    buttons = _buttons(html)
    assert [b["aria-label"] for b in buttons] == [
        "Rang A, siège 1, accessible",
        "Rang A, siège 2, accessible",
        "Rang A, siège 3, accessible",
        "Rang B, siège 1",
        "Rang B, siège 2",
        "Rang B, siège 3",
    ]
    assert {b["aria-pressed"] for b in buttons} == {"false"}
    assert html.count('<i aria-hidden="true">♿</i>') == 3
    assert "place accessible en fauteuil roulant" in html
    assert 'data-limit="4"' in html
    assert "5\u202f000 FCFA par siège" in html
    # Section S is the map's other part.
    assert "Parties du plan" in html
    s_part = api.client.get(page, params={"plan": ids["cat"], "bloc": "1"}).text
    assert [b["aria-label"] for b in _buttons(s_part)] == ["Rang A, siège 1", "Rang A, siège 2"]
    # A standing category or an unknown one shows the page without a map.
    assert _buttons(api.client.get(page, params={"plan": ids["ga_cat"]}).text) == []
    assert _buttons(api.client.get(page, params={"plan": str(uuid.uuid4())}).text) == []
    assert api.client.get(page, params={"plan": "x"}).status_code == 422
    assert api.client.get(page, params={"seat": "x", "plan": ids["cat"]}).status_code == 422


def test_hold_the_seats_chosen_on_the_map(api: Api) -> None:
    ids = _seated(api)
    c, sid = api.client, ids["session"]
    page = f"/billetterie/seance/{sid}"
    seats = _seats(api, sid)
    b2, b3 = _seat(seats, "N", "B", "2"), _seat(seats, "N", "B", "3")
    r = c.post(
        f"{page}/reserver",
        data={
            "csrf_token": _csrf(api, page),
            "category_id": ids["cat"],
            "seat_id": [b2, b3],
            "bloc": "0",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    cart = r.headers["location"]
    assert cart.startswith("/billetterie/panier/")
    html = c.get(cart).text
    assert "N · rang B · place 2" in html
    assert "N · rang B · place 3" in html
    assert "10\u202f000 FCFA" in html
    with api.container.uow(api.tenant) as uow:
        hold = sales.get_hold(uow, uuid.UUID(cart.rsplit("/", 1)[-1]))
    assert hold.quantity == 2
    # The map now shows them taken, to everyone.
    taken = {b["value"]: b for b in _buttons(c.get(page, params={"plan": ids["cat"]}).text)}
    assert taken[b2]["disabled"] == "yes"
    assert taken[b2]["aria-label"] == "Rang B, siège 2, occupé"


def test_seat_taken_meanwhile_sends_back_to_a_refreshed_map(api: Api) -> None:
    ids = _seated(api)
    c, sid = api.client, ids["session"]
    page = f"/billetterie/seance/{sid}"
    seats = _seats(api, sid)
    a2, b1 = _seat(seats, "N", "A", "2"), _seat(seats, "N", "B", "1")
    csrf = _csrf(api, page)
    # Someone else holds A2 between the buyer's map and their click.
    other = c.post(
        f"/api/v1/ticketing/sessions/{sid}/holds",
        json={"category_id": ids["cat"], "seat_ids": [a2]},
    )
    assert other.status_code == 201
    r = c.post(
        f"{page}/reserver",
        data={"csrf_token": csrf, "category_id": ids["cat"], "seat_id": [a2, b1], "bloc": "0"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    back = r.headers["location"]
    assert back.startswith(f"{page}?error=ticketing.seat_taken&plan={ids['cat']}&bloc=0")
    assert back.endswith("#plan")
    html = c.get(back.split("#")[0]).text
    assert "vient d'être pris par quelqu'un d'autre" in html
    assert "Pris entre-temps : Rang A, siège 2" in html
    state = {b["value"]: b for b in _buttons(html)}
    assert state[a2]["disabled"] == "yes"
    assert state[a2]["aria-pressed"] == "false"
    assert state[b1]["aria-pressed"] == "true"  # the buyer's other seat is still chosen
    # Nothing was held for the buyer.
    assert [s["id"] for s in _seats(api, sid) if not s["free"]] == [a2]


def test_seat_form_refuses_bad_choices_clearly(api: Api) -> None:
    ids = _seated(api)
    c, sid = api.client, ids["session"]
    page = f"/billetterie/seance/{sid}"
    seats = _seats(api, sid)
    csrf = _csrf(api, page)

    def post(data: dict[str, Any]) -> Any:
        return c.post(f"{page}/reserver", data={"csrf_token": csrf, **data}, follow_redirects=False)

    # More seats than the per-order limit (4).
    five = [s["id"] for s in seats[:5]]
    r = post({"category_id": ids["cat"], "seat_id": five})
    assert r.status_code == 303
    assert "error=validation_failed" in r.headers["location"]
    assert "Votre demande n'a pas pu aboutir." in c.get(r.headers["location"]).text
    # Seats for a standing category.
    r = post({"category_id": ids["ga_cat"], "seat_id": five[:1]})
    assert "error=validation_failed" in r.headers["location"]
    # Neither a quantity nor seats.
    r = post({"category_id": ids["cat"]})
    assert r.headers["location"] == f"{page}?error=validation_failed"
    # Not a seat id at all: a 422, not a 500.
    assert post({"category_id": ids["cat"], "seat_id": ["nope"]}).status_code == 422
    # Best available still works for the seated category.
    r = post({"category_id": ids["cat"], "quantity": "2"})
    assert r.headers["location"].startswith("/billetterie/panier/")
    assert all(s["free"] for s in _seats(api, sid)[:3])  # accessible seats are kept for last


def test_a_big_map_is_shown_in_light_blocks(api: Api) -> None:
    rows = [f"{n:02d}" for n in range(1, 41)]
    ids = _seated(api, grids=[{"section": "Nord", "rows": rows, "per_row": 60}])
    page = f"/billetterie/seance/{ids['session']}"
    r = api.client.get(page, params={"plan": ids["cat"], "bloc": "3"})
    assert r.status_code == 200
    assert len(r.content) < 100_000
    buttons = _buttons(r.text)
    assert len(buttons) == 240  # four rows of 60
    assert buttons[0]["aria-label"] == "Rang 13, siège 1"
    assert "Section Nord · rangs 13 à 16" in r.text
    assert r.text.count(f"plan={ids['cat']}&amp;bloc=") == 10
