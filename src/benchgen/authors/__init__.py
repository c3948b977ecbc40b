"""Scenario authors: producers of scenario scripts (the offline, procedural author lives in ``offline``)."""

from typing import Literal

AuthorKind = Literal["offline", "agent"]
"""Who writes the scripts: the procedural ``offline`` author or the LLM ``agent`` graph
(``GenerateOptions.author``, ``benchgen generate --author``)."""


class AuthorFailure(Exception):
    """An author could not produce a candidate; carries a code and message for the rejection archive."""

    def __init__(self, code: str, message: str, script: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.script = script
