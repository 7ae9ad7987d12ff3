"""Demo gates, check-in lists and accreditation badges for the JOJ demo (idempotent)."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from teranga.access import service
from teranga.access.models import CheckinList, Gate
from teranga.config import Settings
from teranga.container import build_container
from teranga.platform.uow import UnitOfWork
from teranga.tenancy import api as tenancy

GAMES_START = dt.datetime(2026, 10, 29, 0, 0, tzinfo=dt.UTC)
GAMES_END = dt.datetime(2026, 11, 14, 23, 59, tzinfo=dt.UTC)
PEOPLE = (
    ("Awa Gueye", "Radiodiffusion Télévision Sénégalaise", "media", ["MEDIA", "MIX"]),
    ("Modou Diallo", "COJOJ Dakar 2026", "volunteer", ["PUBLIC"]),
    ("Ndeye Faye", "Fédération sénégalaise de basketball", "official", ["FOP", "MIX"]),
    ("Cheikh Seck", "Équipe du Sénégal", "athlete", ["FOP", "VILLAGE"]),
    ("Mariama Thiam", "COJOJ Dakar 2026", "staff", ["FOP", "MEDIA", "PUBLIC"]),
)


SPECTATORS = "Spectateurs — séances de la démo"


def _ticket_sessions(uow: UnitOfWork) -> list[uuid.UUID]:
    from teranga.ticketing import api as ticketing

    return ticketing.session_ids(uow)


def load(settings: Settings) -> list[str]:
    container = build_container(settings)
    try:
        with container.uow() as uow:
            tid = tenancy.get_by_slug(uow, settings.default_tenant).id
        with container.uow(tid) as uow:
            sessions = _ticket_sessions(uow)
            if uow.session.scalar(sa.select(sa.func.count()).select_from(Gate)):
                # Later loads: sessions created since (the ticketing demo dates some from
                # today) join the spectators' list, so their tickets open the demo gates.
                spectators_list = uow.session.scalar(
                    sa.select(CheckinList).where(CheckinList.name == SPECTATORS)
                )
                added = 0
                if spectators_list is not None:
                    known = set(spectators_list.session_ids)
                    new = [str(s) for s in sessions if str(s) not in known]
                    if new:
                        spectators_list.session_ids = [*spectators_list.session_ids, *new]
                        added = len(new)
                return [f"access: demo gates present; {added} new sessions on the spectators' list"]
            spectators = service.create_list(
                uow,
                name=SPECTATORS,
                session_ids=sessions,
                opens_at=None,
            )
            accredited = service.create_list(
                uow,
                name="Accrédités — presse, officiels, volontaires",
                accreditation_roles=["media", "official", "volunteer", "staff", "athlete"],
                badge_zones=["MEDIA", "MIX", "FOP", "PUBLIC"],
                allow_reentry=True,
                exit_scans=True,
            )
            for name, cluster, lists in (
                ("Porte A", "Dakar Arena Nord", [spectators.id]),
                ("Porte B", "Dakar Arena Nord", [spectators.id]),
                ("Porte Presse", "Dakar Arena Sud", [accredited.id]),
            ):
                service.create_gate(uow, name=name, cluster=cluster, list_ids=lists)
            # The Games are the reference period; the demo keeps its badges usable after them.
            until = max(GAMES_END, container.clock.now() + dt.timedelta(days=90))
            for name, org, role, zones in PEOPLE:
                service.register_accreditation(
                    uow,
                    name=name,
                    organisation=org,
                    role=role,
                    zones=zones,
                    valid_from=GAMES_START,
                    valid_until=until,
                )
        return [
            f"access: 3 gates, 2 check-in lists ({len(sessions)} sessions), "
            f"{len(PEOPLE)} accreditation badges (illustrative) — scanner at /controle"
        ]
    finally:
        container.dispose()
