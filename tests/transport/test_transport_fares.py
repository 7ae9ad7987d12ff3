"""Journey fares (GTFS fares v1) and leg geometry from shapes.txt, on a small synthetic feed."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from teranga.config import Settings
from teranga.container import Container
from teranga.transport import service
from teranga.transport.fares import LegFareInput, parse_fares, price_legs, total
from teranga.transport.geometry import cut_shape
from teranga.transport.web import svg_map
from teranga.web.app import create_app
from tests.factories import make_tenant

DEPART = dt.datetime(2026, 11, 2, 8, 0, tzinfo=service.TZ)  # a Monday
STOPS = {"A": (14.70, -17.40), "B": (14.71, -17.41), "C": (14.72, -17.42), "D": (14.73, -17.43)}


def _shape() -> list[tuple[float, float]]:
    """A->C bowing away from the straight line; stops sit on it at t = 0, 0.5, 1."""
    (la, lo), (lc, oc) = STOPS["A"], STOPS["C"]
    pts = []
    for k in range(-2, 23):  # two points before A, two after C
        t = k / 20
        pts.append((la + (lc - la) * t + 0.003 * math.sin(2 * math.pi * t), lo + (oc - lo) * t))
    return pts


def feed_files() -> dict[str, str]:
    stops = "stop_id,stop_name,stop_lat,stop_lon,zone_id\n" + "".join(
        f"{s},Arrêt {s},{la:.6f},{lo:.6f},{'Z1' if s in 'AB' else 'Z2'}\n"
        for s, (la, lo) in STOPS.items()
    )
    shape = "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence\n" + "".join(
        f"SH1,{la:.6f},{lo:.6f},{i + 1}\n" for i, (la, lo) in enumerate(_shape())
    )
    return {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
        "AG,Dakar Bus,https://bus.sn,Africa/Dakar\n",
        "stops.txt": stops,
        "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\n"
        "R1,AG,1,,3\nR2,AG,2,,3\n",
        "trips.txt": "route_id,service_id,trip_id,shape_id\nR1,S,T1,SH1\nR2,S,T2,\n",
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
        "start_date,end_date\nS,1,1,1,1,1,1,1,20261001,20261231\n",
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,08:05:00,08:05:00,A,1\nT1,08:15:00,08:15:00,B,2\nT1,08:25:00,08:25:00,C,3\n"
        "T2,08:35:00,08:35:00,C,1\nT2,08:45:00,08:45:00,D,2\n",
        "shapes.txt": shape,
        "fare_attributes.txt": "fare_id,price,currency_type,payment_method,transfers\n"
        "BASE,150,XOF,0,0\nZONE2,250.00,XOF,0,\n",
        "fare_rules.txt": "fare_id,route_id,origin_id,destination_id\nBASE,R1,,\nZONE2,,Z2,Z2\n",
    }


def _check_plan(journeys: list[dict[str, object]]) -> None:
    assert journeys
    j = journeys[0]
    assert j["total_fare"] == {"price": 400, "currency": "XOF"}
    legs = [leg for leg in j["legs"] if leg["mode"] == "transit"]  # type: ignore[attr-defined]
    assert [leg["fare"]["fare_id"] for leg in legs] == ["fares:BASE", "fares:ZONE2"]
    assert [leg["fare"]["price"] for leg in legs] == [150, 250]
    first, second = legs
    # The R1 leg follows the shape (21 points between A and C), not three stops.
    assert len(first["shape"]) == 21
    assert first["shape"][0] == [STOPS["A"][0], STOPS["A"][1]]
    assert first["shape"][-1] == [STOPS["C"][0], STOPS["C"][1]]
    assert max(abs(p[0] - (14.70 + (p[1] + 17.40) / -1)) for p in first["shape"]) > 0.002
    assert second["shape"] is None  # T2 has no shape: the map draws stop to stop


def test_plan_service_prices_legs_and_follows_shapes(container: Container) -> None:
    tenant = make_tenant(container)
    data = container.settings.data_dir
    files = {k: v.encode() for k, v in feed_files().items()}
    with container.uow(tenant) as uow:
        res = service.import_feed(uow, source=files, feed_id="fares", data_dir=data)
    assert res.status == "imported", res.report.summary_lines()
    with container.uow(tenant) as uow:
        plan = service.plan(
            uow, data_dir=data, origin="fares:A", destination="fares:D", depart=DEPART
        )
    _check_plan(plan["journeys"])
    m = svg_map(plan["journeys"][0])
    transit = [line for line in m["lines"] if not line["walk"]]
    assert len(transit[0]["points"].split()) > 3  # shape points, more than the 3 stops
    assert len(transit[1]["points"].split()) == 2  # no shape: straight stop-to-stop line


def test_api_page_and_cli_show_fares(db_settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "fares"
    folder.mkdir()
    for name, text in feed_files().items():
        (folder / name).write_text(text, encoding="utf-8")
    from teranga.cli.main import app

    env = {
        "TERANGA_DATA_DIR": str(db_settings.data_dir),
        "TERANGA_SECRET_KEY": "x" * 32,
        "TERANGA_DATABASE_ADMIN_URL": db_settings.database_admin_url,
    }
    url = db_settings.resolved_database_url
    runner = CliRunner()
    r = runner.invoke(app, ["transport", "import", str(folder), "--database-url", url], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["transport", "plan", "--from", "fares:A", "--to", "fares:D",
         "--depart", "2026-11-02T08:00", "--json", "--database-url", url],
        env=env,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    _check_plan(json.loads(r.stdout)["journeys"])

    with TestClient(create_app(db_settings), follow_redirects=False) as client:
        params = {"from": "fares:A", "to": "fares:D", "depart": "2026-11-02T08:00"}
        body = client.get("/api/v1/transport/plan", params=params)
        assert body.status_code == 200, body.text
        _check_plan(body.json()["journeys"])
        page = client.get(
            "/transport",
            params={"from": "fares:A", "to": "fares:D", "when": "2026-11-02T08:00"},
            headers={"Accept-Language": "fr"},
        )
    assert page.status_code == 200
    assert "Tarif\u00a0:" in page.text
    assert "400 XOF" in page.text
    assert "150 XOF" in page.text


def test_fare_rules_transfers_and_unknown() -> None:
    table = parse_fares(
        [
            {
                "fare_id": "CITY",
                "price": "200",
                "currency_type": "xof",
                "transfers": "1",
                "transfer_duration": "3600",
            },
            {"fare_id": "CHEAP", "price": "100", "currency_type": "XOF", "agency_id": "OTHER"},
            {"fare_id": "RING", "price": "300", "currency_type": "XOF"},
            {"fare_id": "BAD", "price": "abc", "currency_type": "XOF"},
        ],
        [
            {"fare_id": "CITY", "origin_id": "Z1", "destination_id": "Z1"},
            {"fare_id": "CHEAP", "route_id": "R1"},
            {"fare_id": "RING", "contains_id": "Z1"},
            {"fare_id": "RING", "contains_id": "Z2"},
        ],
    )
    assert set(table.fares) == {"CITY", "CHEAP", "RING"}

    def leg(zones: str, at: int, route: str = "R1") -> LegFareInput:
        z = [f"Z{c}" for c in zones]
        return LegFareInput("f", route, "AG", z[0], z[-1], frozenset(z), at)

    # CHEAP is another agency's; one transfer free within the hour, then pay again.
    fares = price_legs({"f": table}, [leg("11", 0), leg("11", 600), leg("11", 1200)])
    assert [(f.fare_id, f.price, f.transfer) for f in fares if f] == [
        ("CITY", 200, False), ("CITY", 0, True), ("CITY", 200, False)
    ]  # fmt: skip
    assert total(fares) == (400, "XOF")
    late = price_legs({"f": table}, [leg("11", 0), leg("11", 4000)])
    assert [f.price for f in late if f] == [200, 200]
    # Z1 -> Z2 only matches RING (contains Z1 and Z2); Z3 matches nothing.
    ring = price_legs({"f": table}, [leg("12", 0)])
    assert ring[0] is not None
    assert (ring[0].fare_id, ring[0].price) == ("RING", 300)
    unknown = price_legs({"f": table}, [leg("11", 0), leg("13", 600)])
    assert unknown[1] is None
    assert total(unknown) is None
    assert total([]) is None
    assert price_legs({}, [leg("11", 0)]) == [None]


def test_cut_shape_between_stops() -> None:
    shape = _shape()
    stops = [STOPS["A"], STOPS["B"], STOPS["C"]]
    part = cut_shape(shape, stops)
    assert len(part) == 21
    assert part[0] == STOPS["A"]
    assert part[-1] == STOPS["C"]
    # An out-and-back shape: A->C stops at the first pass; C->A rides on past C to the
    # turnaround (2 points out, 2 back + the turning point) then back to A.
    back = shape + shape[::-1]
    assert len(cut_shape(back, [STOPS["A"], STOPS["C"]])) == 21
    ret = cut_shape(back, [STOPS["C"], STOPS["A"]])
    assert (ret[0], ret[-1], len(ret)) == (STOPS["C"], STOPS["A"], 26)
    assert cut_shape(shape[:1], stops) == []
    assert cut_shape(shape, [STOPS["A"], STOPS["A"]]) == []
