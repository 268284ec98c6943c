"""Metering writes: `record` (batches of usage events with their rollups), `track` (calls creators report for their
self-hosted models), `retention` (purging old raw events; rollups stay)."""
