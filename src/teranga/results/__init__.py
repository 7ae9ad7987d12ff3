"""Live results: competition model, ODF import, medal standings and live streams."""
