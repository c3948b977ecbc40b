"""Scenario authors: producers of scenario scripts (the offline, procedural author lives in ``offline``)."""
