"""The errors benchgen raises on purpose, in one hierarchy the CLI maps to exit codes by class.

- :class:`UsageError` (exit 2): the user can fix it by changing what they typed or
  configured: a bad option, a missing file, a wrong credential, a family that does not exist.
- :class:`InfrastructureError` (exit 1): something outside the user's input failed: a
  server stayed unreachable, a lease was lost, the sandbox could not start.

Modules define their own specific errors as subclasses of one branch (often also of the
builtin they refine, e.g. ``FileNotFoundError``), so callers can catch either the precise
class or a whole branch.
"""

from __future__ import annotations


class BenchgenError(Exception):
    """Base of every error benchgen raises deliberately; the message is meant for the user."""

    exit_code = 1
    kind = ""
    """What the error is about, in a word or two (``database``, ``not found``); the CLI
    prints ``error: <kind>: <message>`` when it is set."""


class UsageError(BenchgenError):
    """The input or the configuration is wrong: retrying cannot help, changing it can."""

    exit_code = 2


class InfrastructureError(BenchgenError):
    """A service, the sandbox or the storage failed underneath a correct request."""

    exit_code = 1
