"""Alembic revisions, oldest first: ``rev_0001`` (baseline), ``rev_0002`` (dataset keys, rejections)."""
