"""Alembic revisions of the louyu database (`env.py`, `versions/`), shipped inside the package."""
