"""Journey-planner bench on a Dakar-sized synthetic network: prints one JSON line.

    .venv/bin/python bench/transport_plan.py [--gtfs PATH] [--queries 1000] [--reference 100]

import_s: read + validate the GTFS folder and build the planner timetable (footpaths
included); build_s: the day network (RAPTOR routes and arrays) for one service date;
p50/p95: earliest-arrival queries between random served stops at random times 05:00-22:00
(Pareto rounds included, journeys rebuilt); mismatches_vs_reference: earliest arrivals that
differ from the brute-force Dijkstra over the first ``--reference`` queries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from teranga.transport.gtfs import read_feed
from teranga.transport.planner import build_day, search, timetable_from_feeds
from teranga.transport.planner.reference import Reference
from teranga.transport.synth import SynthConfig, generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gtfs", type=Path, default=None, help="GTFS folder or zip (default: synth)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--reference", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--engine", default="auto", choices=["auto", "loop", "numpy"])
    ap.add_argument(
        "--database-url",
        default="",
        help="also time the stored import (validate + write + planner cache) into this DB",
    )
    args = ap.parse_args()
    stored: dict[str, float] = {}
    load0 = round(os.getloadavg()[0], 2)  # the machine is shared: read figures against it
    with tempfile.TemporaryDirectory() as tmp:
        path = args.gtfs
        if path is None:
            path = Path(tmp) / "dakar"
            generate(path, SynthConfig(seed=args.seed))
        t, c = time.perf_counter(), time.process_time()
        feed, report = read_feed(path, feed_id="dakar")
        tt = timetable_from_feeds([feed])
        import_s = time.perf_counter() - t
        import_cpu_s = time.process_time() - c
        if args.database_url:
            stored = _stored_import(args.database_url, path, Path(tmp))
    day = dt.date(2026, 11, 2)
    t = time.perf_counter()
    net = build_day(tt, day)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    search(net, [(0, 30000, False)], {1: 0}, engine=args.engine)  # numba compile or cache load
    jit_s = time.perf_counter() - t
    rng = random.Random(args.seed)
    served = np.unique(tt.st_stop).tolist()
    queries = [
        (rng.choice(served), rng.choice(served), rng.randrange(5 * 3600, 22 * 3600))
        for _ in range(args.queries)
    ]
    times: list[float] = []
    cpu: list[float] = []  # CPU time per query: what the machine costs when others load it
    answers: list[int | None] = []
    for a, b, t0 in queries:
        s, c = time.perf_counter(), time.thread_time()
        js = search(net, [(a, t0, False)], {b: 0}, max_rounds=12, engine=args.engine)
        cpu.append((time.thread_time() - c) * 1000)
        times.append((time.perf_counter() - s) * 1000)
        answers.append(js[0].arrival if js else None)
    ref = Reference(tt, day)
    n_ref = min(args.reference, len(queries))
    t = time.perf_counter()
    mismatches = sum(
        ref.earliest_arrival([(a, t0, False)], {b: 0}) != answers[i]
        for i, (a, b, t0) in enumerate(queries[:n_ref])
    )
    ref_s = time.perf_counter() - t
    q = statistics.quantiles(times, n=100)
    qc = statistics.quantiles(cpu, n=100)
    print(
        json.dumps(
            {
                "feed": "synthetic-dakar" if args.gtfs is None else str(args.gtfs),
                "stops": tt.n_stops,
                "stop_times": tt.n_stop_times,
                "import_s": round(import_s, 3),
                "import_cpu_s": round(import_cpu_s, 3),
                "build_s": round(build_s, 3),
                "p50_ms": round(q[49], 3),
                "p95_ms": round(q[94], 3),
                "p50_cpu_ms": round(qc[49], 3),
                "p95_cpu_ms": round(qc[94], 3),
                "queries": len(times),
                "mismatches_vs_reference": mismatches,
                "reference_queries": n_ref,
                "reference_ms_per_query": round(ref_s / max(1, n_ref) * 1000, 1),
                "engine": args.engine,
                "jit_or_cache_load_s": round(jit_s, 3),
                "routes": net.n_routes,
                "errors": report.count("error"),
                **stored,
                "loadavg_1m_at_start": load0,
            }
        )
    )


def _stored_import(url: str, path: Path, data_dir: Path) -> dict[str, float]:
    from teranga import schema
    from teranga.config import Settings
    from teranga.container import build_container
    from teranga.tenancy import api as tenancy
    from teranga.transport import service

    schema.upgrade(url)
    settings = Settings(database_url=url, data_dir=data_dir, secret_key="bench" * 8)
    container = build_container(settings)
    with container.uow() as uow:  # a fresh tenant: its network is this one feed only
        tenant = tenancy.create_tenant(
            uow, slug=f"bench-{time.time_ns()}", name="bench", legal_entity="bench",
            representative_sn="bench", dpo_contact="bench",
        ).id  # fmt: skip
    out: dict[str, float] = {}
    for label in ("stored_import", "reimport"):  # the second must find it unchanged
        t, c = time.perf_counter(), time.process_time()
        with container.uow(tenant) as uow:
            res = service.import_feed(uow, source=path, feed_id="dakar", data_dir=data_dir)
        out[f"{label}_s"] = round(time.perf_counter() - t, 3)
        out[f"{label}_cpu_s"] = round(time.process_time() - c, 3)
        if label == "reimport" and res.status != "unchanged":
            raise SystemExit(f"re-import was {res.status}, expected unchanged")
    container.dispose()
    return out


if __name__ == "__main__":
    main()
