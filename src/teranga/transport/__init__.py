"""e-Transport: GTFS import/validate/export, journey planning, real time."""
