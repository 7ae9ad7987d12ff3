"""Demo network for the demo tenant: TER, BRT, a few bus lines and the Games shuttles.

Generated deterministically (``synth``), so loading twice finds the same content hash and
changes nothing.
"""

from __future__ import annotations

from teranga.config import Settings
from teranga.container import build_container
from teranga.tenancy import api as tenancy
from teranga.transport import service
from teranga.transport.synth import SynthConfig, generate

DEMO = SynthConfig(bus_stops=300, bus_lines=16, headway_factor=1.5, seed=2026)


def load(settings: Settings) -> list[str]:
    container = build_container(settings)
    try:
        folder = settings.data_dir / "transport" / "demo-gtfs"
        generate(folder, DEMO)
        with container.uow() as uow:
            tenant = tenancy.get_by_slug(uow, settings.default_tenant).id
        with container.uow(tenant) as uow:
            res = service.import_feed(
                uow, source=folder, feed_id="dakar", data_dir=settings.data_dir
            )
    finally:
        container.dispose()
    s = res.report.stats
    return [
        f"transport: feed dakar {res.status} ({s.get('stops', 0)} stops, "
        f"{s.get('stop_times', 0)} stop times); try /transport"
    ]
