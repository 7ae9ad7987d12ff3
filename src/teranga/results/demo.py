"""Demo results (illustrative): a few units of the demo days, some official, so medals show.

Competitor names are invented. Idempotent: units are upserted, lines entered only while a
unit has none, so re-running the demo changes nothing and publishes nothing new.
"""

from __future__ import annotations

import datetime as dt

from teranga.config import Settings
from teranga.container import build_container
from teranga.platform.errors import NotFound
from teranga.results import service
from teranga.results.domain import Line

UTC = dt.UTC


def _t(day: int, hour: int, minute: int = 0) -> dt.datetime:
    # D1 = 2026-10-31 (games.yaml); Dakar is UTC all year.
    return dt.datetime(2026, 10, 31, hour, minute, tzinfo=UTC) + dt.timedelta(days=day - 1)


def _ln(rows: list[tuple[str, str, str, int | None, str]]) -> list[Line]:
    return [
        Line(participant=p, name=n, noc=noc, start_order=i, rank=r, mark=m)
        for i, (p, n, noc, r, m) in enumerate(rows, start=1)
    ]


# code, name, name_fr, venue, start, medal, result status (None: no lines), lines
UNITS: list[tuple[str, str, str, str, dt.datetime, bool, str | None, list[Line]]] = [
    (
        "JUDM66KG--------------FNL-000100--",
        "Men -66 kg",
        "-66 kg hommes",
        "Dakar Expo Center",
        _t(1, 16),
        True,
        "OFFICIAL",
        _ln(
            [
                ("3001", "Haruto TANAKA", "JPN", 1, ""),
                ("3002", "Ibrahima SOW", "SEN", 2, ""),
                ("3003", "Louis MARTIN", "FRA", 3, ""),
                ("3004", "Giorgi BERIDZE", "GEO", 3, ""),
            ]
        ),
    ),
    (
        "SWMW100MFR------------FNL-000100--",
        "Women's 100m Freestyle Final",
        "100 m nage libre femmes, finale",
        "Piscine olympique, Tour de l'Œuf",
        _t(2, 17),
        True,
        "OFFICIAL",
        _ln(
            [
                ("2002", "Lerato DLAMINI", "RSA", 1, "57.40"),
                ("2003", "Nour HASSAN", "EGY", 2, "57.95"),
                ("2001", "Awa NDIAYE", "SEN", 3, "58.12"),
                ("2004", "Emma ROY", "CAN", 4, "58.60"),
            ]
        ),
    ),
    (
        "ATHM100M--------------FNL-000100--",
        "Men's 100m Final",
        "100 m hommes, finale",
        "Stade Iba Mar Diop",
        _t(3, 18, 30),
        True,
        "OFFICIAL",
        _ln(
            [
                ("1001", "Moussa DIALLO", "SEN", 1, "10.21"),
                ("1003", "Tunde ADEYEMI", "NGR", 2, "10.34"),
                ("1002", "Kwame MENSAH", "GHA", 3, "10.38"),
                ("1005", "Luis PEREIRA", "BRA", 4, "10.45"),
                ("1004", "Jean MOREAU", "FRA", 5, "10.52"),
            ]
        ),
    ),
    (
        "ATHW100M--------------FNL-000100--",
        "Women's 100m Final",
        "100 m femmes, finale",
        "Stade Iba Mar Diop",
        _t(3, 18, 45),
        True,
        "UNOFFICIAL",
        _ln(
            [
                ("1101", "Fatou SARR", "SEN", 1, "11.52"),
                ("1102", "Grace OKAFOR", "NGR", 2, "11.60"),
                ("1103", "Ama BOATENG", "GHA", 3, "11.71"),
            ]
        ),
    ),
    (
        "ATHW400M--------------HEAT000100--",
        "Women's 400m Heat 1",
        "400 m femmes, série 1",
        "Stade Iba Mar Diop",
        _t(4, 9, 30),
        False,
        "START_LIST",
        _ln(
            [
                ("1201", "Aïssatou BA", "SEN", None, ""),
                ("1202", "Chiamaka EZE", "NGR", None, ""),
                ("1203", "Sara BENALI", "MAR", None, ""),
            ]
        ),
    ),
    (
        "BK3MTEAM3-------------GPA-000100--",
        "Men's 3x3 Pool A: SEN - CIV",
        "3x3 hommes, poule A : SEN - CIV",
        "Tour de l'Œuf",
        _t(4, 17),
        False,
        None,
        [],
    ),
]


def load(settings: Settings) -> list[str]:
    from teranga.tenancy import api as tenancy

    container = build_container(settings)
    created = entered = 0
    try:
        with container.uow() as uow:
            tid = tenancy.get_by_slug(uow, settings.default_tenant).id
        for code, name, name_fr, venue, start, medal, status, lines in UNITS:
            with container.uow(tid) as uow:
                try:
                    existing = service.unit_view(uow, code)
                except NotFound:
                    existing = None
                if existing is None:
                    service.upsert_unit(
                        uow,
                        service.UnitSpec(
                            code=code,
                            name=name,
                            name_fr=name_fr,
                            venue=venue,
                            scheduled_at=start,
                            medal=medal,
                        ),
                    )
                    created += 1
                if status and (existing is None or existing["version"] == 0):
                    service.record_lines(
                        uow, code=code, lines=lines, result_status=status, source="demo"
                    )
                    entered += 1
    finally:
        container.dispose()
    return [
        f"results: {len(UNITS)} units ({created} created, {entered} with new lines; illustrative)"
    ]
