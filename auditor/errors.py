"""The project's exceptions; each carries the exit code the CLI turns it into."""

from __future__ import annotations


class AuditorError(Exception):
    """Base of every error we raise on purpose; the message names the bad value and the fix."""

    exit_code = 4


class UsageError(AuditorError):
    """Bad arguments or options: nothing was scanned."""

    exit_code = 2


class RulePackError(AuditorError):
    """A rule pack could not be loaded; the message lists every problem with file and line."""

    exit_code = 2


class RegistryError(AuditorError):
    """A registry is missing, corrupt, or incompatible with this scanner."""

    exit_code = 2


class InputError(AuditorError):
    """No input could be read at all (every input skipped, or none given that exists)."""

    exit_code = 3
