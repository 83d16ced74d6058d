"""User-facing errors: bad configs, traces, files or arguments.

Every such error is raised as :class:`InputError`; the CLI prints its one-line message and exits
with code 2 (no traceback). The message names the source (file, line or key path), what was
expected and, for names, the valid choices or the closest match.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad user input. ``str(err)`` is the one-line message shown to the user."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


def closest_match_hint(name: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest valid choice, plus the list of choices."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{hint} Valid choices: {', '.join(options)}"


def unknown_name(
    kind: str, name: str, choices: Iterable[str], *, source: str | None = None
) -> InputError:
    """Build the error for an unknown name (preset, component, model id ...)."""
    return InputError(f"unknown {kind} '{name}'{closest_match_hint(name, choices)}", source=source)
