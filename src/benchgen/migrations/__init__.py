"""Alembic migrations of the metadata database (run by :func:`benchgen.db.upgrade`)."""
