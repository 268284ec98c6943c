"""Jobs of this billing area (see tasks/__init__.py)."""
