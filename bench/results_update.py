"""CPU of one scorer update in the results service (no HTTP): prints one JSON line.

    ./run bench results_update [--updates 300] [--postgres | --database-url URL]

Creates a tenant and two units on a fresh database (SQLite in a temp dir; with
``--postgres`` a new database on the local server; or ``--database-url``, an owner URL of
an empty PostgreSQL database): a medal final and a heat. Then records ``--updates`` new
versions of each unit's lines (two ranked competitors, ``UNOFFICIAL``: what a scorer sends
during a race), each in its own unit of work, as ``POST .../units/{code}/lines`` does,
and reports this process's CPU per update. The scorer path's fixed cost per update is
what a live fan-out pays once per message, whatever its number of clients;
``live_fanout`` measures it with the HTTP server, the relay and the hub around it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import tempfile
import uuid
from pathlib import Path

from teranga import schema
from teranga.config import Settings
from teranga.container import build_container
from teranga.results import service
from teranga.results.domain import Line
from teranga.tenancy import api as tenancy

T0 = dt.datetime(2026, 11, 2, 18, 30, tzinfo=dt.UTC)


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--updates", type=int, default=300)
    ap.add_argument("--database-url", default="", help="empty: SQLite in a temp dir")
    ap.add_argument("--postgres", action="store_true", help="a new database on 127.0.0.1:5432")
    args = ap.parse_args()
    if args.postgres and not args.database_url:
        from ticketing_rush import fresh_database  # bench/ is on sys.path

        args.database_url = fresh_database()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            env="dev",
            data_dir=Path(tmp),
            secret_key="bench-secret-key-0123456789-abcdefghijklmnop",  # noqa: S106
            log_level="WARNING",
            **({"database_url": args.database_url} if args.database_url else {}),
        )
        schema.upgrade(settings.resolved_admin_url)
        container = build_container(settings)
        try:
            with container.uow() as uow:
                tid = tenancy.create_tenant(
                    uow,
                    slug=f"bench-{uuid.uuid4().hex[:6]}",
                    name="Bench",
                    legal_entity="Bench SA",
                    representative_sn="Dakar",
                    dpo_contact="dpo@bench.example.sn",
                ).id
            out: dict[str, object] = {"updates": args.updates}
            for kind, code, medal in (
                ("medal_final", "ATHM100M--------------FNL-000100--", True),
                ("heat", "ATHM100M--------------HEAT000100--", False),
            ):
                with container.uow(tid) as uow:
                    service.upsert_unit(
                        uow,
                        service.UnitSpec(code=code, name=kind, scheduled_at=T0, medal=medal),
                    )

                def update(i: int, code: str = code) -> None:
                    lines = [
                        Line("a", "Moussa DIALLO", "SEN", rank=1 + i % 2, mark=f"10.{i % 90:02d}"),
                        Line("b", "Kwame MENSAH", "GHA", rank=2 - i % 2, mark="10.45"),
                    ]
                    with container.uow(tid) as uow:
                        service.record_lines(
                            uow, code=code, lines=lines, result_status="UNOFFICIAL"
                        )

                for i in range(20):  # warm caches and prepared statements
                    update(i)
                c0 = cpu()
                for i in range(args.updates):
                    update(i)
                out[f"{kind}_cpu_ms_per_update"] = round((cpu() - c0) / args.updates * 1000, 2)
            out["database"] = settings.resolved_admin_url.split(":", 1)[0]
            out["loadavg_1m"] = round(os.getloadavg()[0], 2)
            print(json.dumps(out))
        finally:
            container.dispose()


if __name__ == "__main__":
    main()
