"""Synthetic Dakar network written as a GTFS folder, for tests, the bench and the demo.

Default size matches a Dakar-sized network (~1,300 stops, ~300,000 stop times): the TER's 13
stations (10-min headway 05:30–20:00, 20 min to 22:00; 20 min on Sundays), the BRT's 23
stations Guédiawaye–Petersen, Dakar Dem Dikk and AFTU bus lines over a seeded pool of stops,
and event shuttles (frequencies.txt) from TER Diamniadio and the village to the venues and to
Saly. Peak-hour buses are slower, so some later trips overtake earlier ones (planners must
not assume FIFO per route). ``defects=True`` plants the defects real feeds have.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from teranga.transport.venues import VENUES

TER_STATIONS = [
    ("Dakar", 14.6713, -17.4318),
    ("Colobane", 14.6905, -17.4420),
    ("Hann", 14.7175, -17.4300),
    ("Baux Maraîchers", 14.7330, -17.4110),
    ("Pikine", 14.7480, -17.3950),
    ("Thiaroye", 14.7530, -17.3780),
    ("Yeumbeul", 14.7600, -17.3480),
    ("Keur Massar", 14.7660, -17.3230),
    ("Mbao", 14.7420, -17.3070),
    ("PNR", 14.7370, -17.2880),
    ("Rufisque", 14.7170, -17.2720),
    ("Bargny", 14.7000, -17.2350),
    ("Diamniadio", 14.7225, -17.1890),
]
BRT_ENDS = ((14.7800, -17.3950), (14.7450, -17.4300), (14.6720, -17.4340))
BRT_NAMES = [
    "Guédiawaye", "Préfecture Guédiawaye", "Golf Sud", "Dalifort", "Parcelles", "Croisement 22",
    "Grand Médine", "Liberté 6", "Dieuppeul", "Sacré-Cœur", "Grand Dakar", "Castors", "Fass",
    "Colobane BRT", "Médina", "Gueule Tapée", "Place de l'Obélisque", "Rebeuss", "Sandaga",
    "Soumbédioune", "Tilène", "Independance", "Petersen",
]  # fmt: skip
SALY_HOTELS = [("saly-royal", "Saly — Royal", 14.4420, -16.9960)]
# Land boxes (lat0, lat1, lon0, lon1) for bus stops: Dakar peninsula, Pikine/Guédiawaye,
# the Rufisque–Diamniadio corridor.
BOXES = [
    (14.665, 14.745, -17.49, -17.40),
    (14.720, 14.800, -17.42, -17.29),
    (14.700, 14.770, -17.30, -17.17),
]
SERVICE_START = dt.date(2026, 10, 1)
SERVICE_END = dt.date(2026, 12, 31)


@dataclass(frozen=True)
class SynthConfig:
    bus_stops: int = 1250
    bus_lines: int = 75
    headway_factor: float = 1.0  # > 1 thins every timetable (smaller test networks)
    seed: int = 0
    defects: bool = False


@dataclass
class SynthStats:
    stops: int = 0
    trips: int = 0
    stop_times: int = 0
    routes: int = 0
    planted: list[str] = field(default_factory=list)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def _hms(s: int) -> str:
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


class _Writer:
    def __init__(self, out: Path, cfg: SynthConfig) -> None:
        self.out = out
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.stops: list[tuple[str, str, float, float]] = []
        self.routes: list[list[object]] = []
        self.trips: list[list[object]] = []
        self.stop_times: list[list[object]] = []
        self.shapes: list[list[object]] = []
        self.freqs: list[list[object]] = []
        self.stats = SynthStats()

    def add_stop(self, sid: str, name: str, lat: float, lon: float) -> str:
        self.stops.append((sid, name, lat, lon))
        return sid

    def line(
        self,
        *,
        route_id: str,
        agency: str,
        short: str,
        long_: str,
        rtype: int,
        color: str,
        stops: list[tuple[str, str, float, float]],
        speed_kmh: float,
        dwell: int,
        service: str,
        windows: list[tuple[int, int, int]],
        peak_factor: float = 1.0,
        frequencies: bool = False,
    ) -> None:
        self.routes.append([route_id, agency, short, long_, rtype, color, "FFFFFF"])
        for direction, seq in ((0, stops), (1, list(reversed(stops)))):
            shape = f"{route_id}-{direction}"
            for i, s in enumerate(seq):
                self.shapes.append([shape, f"{s[2]:.6f}", f"{s[3]:.6f}", i + 1])
            legs = [
                haversine_m(a[2], a[3], b[2], b[3]) * 1.25 / (speed_kmh / 3.6)
                for a, b in pairwise(seq)
            ]
            n = 0
            for start, end, headway in windows:
                h = max(60, int(headway * self.cfg.headway_factor))
                t0 = start + (self.rng.randrange(0, h // 2) if not frequencies else 0)
                if frequencies:
                    tid = f"{route_id}-{direction}-f{start}"
                    self._trip(route_id, service, tid, seq, legs, start, dwell, 1.0, shape)
                    self.freqs.append([tid, _hms(start), _hms(end), h, 0])
                    continue
                t = t0
                while t < end:
                    hour = (t // 3600) % 24
                    slow = peak_factor if hour in (7, 8, 17, 18, 19) else 1.0
                    slow *= self.rng.uniform(0.95, 1.05)
                    tid = f"{route_id}-{direction}-{n}"
                    self._trip(route_id, service, tid, seq, legs, t, dwell, slow, shape)
                    n += 1
                    t += h

    def _trip(
        self,
        route_id: str,
        service: str,
        tid: str,
        seq: list[tuple[str, str, float, float]],
        legs: list[float],
        start: int,
        dwell: int,
        slow: float,
        shape: str,
    ) -> None:
        self.trips.append([route_id, service, tid, seq[-1][1], tid.split("-")[-2], shape])
        t = float(start)
        for i, s in enumerate(seq):
            arr = int(t)
            dep = arr + (dwell if 0 < i < len(seq) - 1 else 0)
            self.stop_times.append([tid, _hms(arr), _hms(dep), s[0], i + 1, 0, 0])
            if i < len(legs):
                t = dep + legs[i] * slow
        self.stats.trips += 1

    def write(self) -> SynthStats:
        self.out.mkdir(parents=True, exist_ok=True)
        d = self.cfg.defects
        agencies = [
            ["SETER", "SETER — TER Dakar", "https://www.seter.sn/", "Africa/Dakar", "fr"],
            ["DKM", "Dakar Mobilité — BRT", "https://www.dakarmobilite.sn/", "Africa/Dakar", "fr"],
            ["DDD", "Dakar Dem Dikk", "https://www.demdikk.sn/", "Africa/Dakar", "fr"],
            ["AFTU", "AFTU Tata", "https://aftu.example.sn/", "Africa/Dakar", "fr"],
            ["JOJ", "Navettes JOJ Dakar 2026", "https://joj.example.sn/", "Africa/Dakar", "fr"],
        ]
        self._csv(
            "agency.txt",
            ["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang"],
            agencies,
        )
        stop_rows: list[list[object]] = [
            [sid, name, f"{lat:.6f}", f"{lon:.6f}"] for sid, name, lat, lon in self.stops
        ]
        if d:
            stop_rows.append(["BROKEN-1", "Arrêt sans position", "", ""])
            self.stats.planted.append("missing_required_field stops.txt stop_lat")
        self._csv("stops.txt", ["stop_id", "stop_name", "stop_lat", "stop_lon"], stop_rows, bom=d)
        self._csv(
            "routes.txt",
            ["route_id", "agency_id", "route_short_name", "route_long_name", "route_type",
             "route_color", "route_text_color"],
            self.routes,
        )  # fmt: skip
        self._csv(
            "trips.txt",
            ["route_id", "service_id", "trip_id", "trip_headsign", "direction_id", "shape_id"],
            self.trips,
        )
        st = self.stop_times
        if d:
            # A trip whose times go backwards, a trip past midnight, flags "no" on a whole
            # route (the shuttles), a stop time pointing at an unknown stop.
            victim = next(r for r in st if str(r[0]).startswith("DDD") and r[4] == 3)
            victim[1] = victim[2] = "00:00:01"
            self.stats.planted.append(
                f"stop_time_with_arrival_before_previous_departure_time trip {victim[0]}"
            )
            for r in st:
                if str(r[0]).startswith("JOJ"):
                    r[5] = r[6] = 1
            self.stats.planted.append("all_pickup_drop_off_forbidden JOJ shuttles")
            st.append(["TER-0-0", "23:59:00", "23:59:00", "NOWHERE", 999, 0, 0])
            self.stats.planted.append("foreign_key_violation stop_times.txt stop_id")
        self._csv(
            "stop_times.txt",
            ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence",
             "pickup_type", "drop_off_type"],
            st,
            row_delimiter=";" if d else ",",
        )  # fmt: skip
        if d:
            self.stats.planted.append("inconsistent_delimiter stop_times.txt")
        days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        s0, s1 = SERVICE_START.strftime("%Y%m%d"), SERVICE_END.strftime("%Y%m%d")
        self._csv(
            "calendar.txt",
            ["service_id", *days, "start_date", "end_date"],
            [
                ["DAILY", 1, 1, 1, 1, 1, 1, 1, s0, s1],
                ["WEEK", 1, 1, 1, 1, 1, 1, 0, s0, s1],
                ["SUN", 0, 0, 0, 0, 0, 0, 1, s0, s1],
            ],
        )
        self._csv(
            "frequencies.txt",
            ["trip_id", "start_time", "end_time", "headway_secs", "exact_times"],
            self.freqs,
        )
        self._csv(
            "shapes.txt",
            ["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"],
            self.shapes,
        )
        self._csv(
            "fare_attributes.txt",
            ["fare_id", "price", "currency_type", "payment_method", "transfers", "agency_id"],
            [
                ["TER2", 1500, "XOF", 1, 0, "SETER"],
                ["BRT", 400, "XOF", 1, 0, "DKM"],
                ["BUS", 175, "XOF", 0, 0, "DDD"],
                ["TATA", 150, "XOF", 0, 0, "AFTU"],
                ["NAVETTE", 0, "XOF", 0, "", "JOJ"],
            ],
        )
        rules = [["TER2", "TER"], ["BRT", "BRT"], ["NAVETTE", "JOJ-ARENA"]]
        rules += [
            ["BUS" if r[1] == "DDD" else "TATA", str(r[0])]
            for r in self.routes
            if r[1] in ("DDD", "AFTU")
        ]
        self._csv("fare_rules.txt", ["fare_id", "route_id"], rules)
        self.stats.stops = len(stop_rows)
        self.stats.stop_times = len(st)
        self.stats.routes = len(self.routes)
        return self.stats

    def _csv(
        self,
        name: str,
        header: list[str],
        rows: Sequence[Sequence[object]],
        *,
        bom: bool = False,
        row_delimiter: str = ",",
    ) -> None:
        with (self.out / name).open(
            "w", encoding="utf-8-sig" if bom else "utf-8", newline=""
        ) as fh:
            csv.writer(fh, lineterminator="\n").writerow(header)
            csv.writer(fh, delimiter=row_delimiter, lineterminator="\n").writerows(rows)


def _along(
    a: tuple[float, float], b: tuple[float, float], names: list[str], prefix: str
) -> list[tuple[str, str, float, float]]:
    n = len(names)
    return [
        (f"{prefix}{i + 1:02d}", names[i], a[0] + (b[0] - a[0]) * i / (n - 1),
         a[1] + (b[1] - a[1]) * i / (n - 1))
        for i in range(n)
    ]  # fmt: skip


def _nearest(
    pool: list[tuple[str, str, float, float]], lat: float, lon: float
) -> tuple[str, str, float, float]:
    return min(pool, key=lambda s: (s[2] - lat) ** 2 + (s[3] - lon) ** 2)


def generate(out: Path, config: SynthConfig | None = None) -> SynthStats:
    """Write the network as a GTFS folder at ``out``; deterministic for a given config."""
    cfg = config or SynthConfig()
    w = _Writer(out, cfg)
    rng = w.rng
    h = 3600
    # TER
    ter = [
        (f"TER{i + 1:02d}", f"Gare TER {n}", la, lo) for i, (n, la, lo) in enumerate(TER_STATIONS)
    ]
    for s in ter:
        w.add_stop(*s)
    w.line(
        route_id="TER",
        long_="Dakar – Diamniadio",
        stops=ter,
        speed_kmh=55,
        service="WEEK",
        windows=[(5 * h + 1800, 20 * h, 600), (20 * h, 22 * h, 1200)],
        agency="SETER",
        short="TER",
        rtype=2,
        color="0A7E3E",
        dwell=45,
    )
    w.line(
        route_id="TER-SUN",
        long_="Dakar – Diamniadio (dimanche)",
        stops=ter,
        speed_kmh=55,
        service="SUN",
        windows=[(5 * h + 1800, 22 * h, 1200)],
        agency="SETER",
        short="TER",
        rtype=2,
        color="0A7E3E",
        dwell=45,
    )
    # BRT
    brt_a = _along(BRT_ENDS[0], BRT_ENDS[1], BRT_NAMES[:12], "BRT")
    brt_b = _along(BRT_ENDS[1], BRT_ENDS[2], BRT_NAMES[11:], "BRT")
    brt = brt_a + [(f"BRT{i + 13:02d}", *s[1:]) for i, s in enumerate(brt_b[1:])]
    brt = [(sid, f"BRT {name}", la, lo) for sid, name, la, lo in brt]
    for s in brt:
        w.add_stop(*s)
    w.line(route_id="BRT", agency="DKM", short="BRT", long_="Guédiawaye – Petersen", rtype=3,
           color="1D4F91", stops=brt, speed_kmh=22, dwell=25, service="DAILY",
           windows=[(5 * h, 23 * h, 360)])  # fmt: skip
    # Venue stops, then the bus stop pool (venues in Dakar are served by buses).
    venue_stops = {vid: (f"V-{vid}", f"{name}", la, lo) for vid, name, la, lo in VENUES}
    for s in venue_stops.values():
        w.add_stop(*s)
    hotels = [(f"H-{hid}", name, la, lo) for hid, name, la, lo in SALY_HOTELS]
    for s in hotels:
        w.add_stop(*s)
    pool: list[tuple[str, str, float, float]] = []
    weights = [3, 2, 1]
    for i in range(cfg.bus_stops):
        box = rng.choices(BOXES, weights)[0]
        la, lo = rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3])
        pool.append((f"B{i:04d}", f"Arrêt {i:04d}", la, lo))
    for s in pool:
        w.add_stop(*s)
    pool_ext = pool + [
        venue_stops[v] for v in ("iba-mar-diop", "tour-de-loeuf", "place-souvenir-africain")
    ]
    anchors = ter + brt
    for k in range(cfg.bus_lines):
        agency = "DDD" if k % 2 == 0 else "AFTU"
        for _ in range(50):
            a = rng.choice(pool_ext if k % 3 else anchors)
            b = rng.choice(pool_ext)
            dist = haversine_m(a[2], a[3], b[2], b[3])
            if 5000 < dist < 16000:
                break
        n = max(2, int(dist / 450))
        seq: list[tuple[str, str, float, float]] = []
        for j in range(n + 1):
            la = a[2] + (b[2] - a[2]) * j / n + rng.uniform(-0.002, 0.002)
            lo = a[3] + (b[3] - a[3]) * j / n + rng.uniform(-0.002, 0.002)
            near = _nearest(pool_ext, la, lo)
            if haversine_m(near[2], near[3], la, lo) < 900 and near not in seq:
                seq.append(near)
        if len(seq) < 4:
            continue
        headway = rng.choice([480, 600, 720, 900])
        w.line(route_id=f"{agency}-{k + 1}", agency=agency, short=str(k + 1),
               long_=f"{seq[0][1]} – {seq[-1][1]}", rtype=3,
               color="F2A900" if agency == "DDD" else "C8102E", stops=seq,
               speed_kmh=rng.uniform(14, 20), dwell=20, service="DAILY",
               windows=[(5 * h + 1800, 23 * h + 1800, headway)], peak_factor=1.35)  # fmt: skip
    # Event shuttles (frequencies): TER Diamniadio -> Diamniadio venues; village -> Saly.
    diam = ter[-1]
    w.line(route_id="JOJ-ARENA", agency="JOJ", short="N1", long_="Gare TER Diamniadio – Sites JOJ",
           rtype=3, color="FFB81C",
           stops=[diam, venue_stops["dakar-arena"], venue_stops["stade-abdoulaye-wade"],
                  venue_stops["centre-equestre-diamniadio"], venue_stops["dakar-expo-center"],
                  venue_stops["village-olympique"]],
           speed_kmh=25, dwell=30, service="DAILY", windows=[(7 * h, 23 * h, 600)],
           frequencies=True)  # fmt: skip
    w.line(route_id="JOJ-SALY", agency="JOJ", short="N2", long_="Village – Saly",
           rtype=3, color="FFB81C",
           stops=[venue_stops["village-olympique"], venue_stops["saly-lamantin-beach"], hotels[0]],
           speed_kmh=50, dwell=60, service="DAILY", windows=[(6 * h, 22 * h, 1800)],
           frequencies=True)  # fmt: skip
    return w.write()
