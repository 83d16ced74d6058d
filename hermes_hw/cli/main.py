"""Entry point of the `hermes` command.

Each subcommand lives in its own module under hermes_hw.cli and exposes
``register(subparsers) -> None``; the parser it adds sets ``func`` (called with the parsed
arguments, returning an exit code). Commands are discovered: adding a command = adding a module.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import hermes_hw.cli
from hermes_hw import __version__
from hermes_hw.errors import EXIT_BAD_INPUT, InputError


def command_modules() -> list[str]:
    """Names of the modules in hermes_hw.cli that define a command (sorted)."""
    return sorted(
        m.name for m in pkgutil.iter_modules(hermes_hw.cli.__path__)
        if m.name != "main" and not m.name.startswith("_")
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hermes",
        description="Simulate LLM inference on a consumer GPU with near-data-processing DIMMs.",
    )
    parser.add_argument("--version", action="version", version=f"hermes-hw {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        module = importlib.import_module(f"hermes_hw.cli.{name}")
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from hermes_hw._malloc import keep_freed_memory

    keep_freed_memory()  # process-wide allocator setting: the command does this, the library not
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"hermes: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("hermes: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
