"""The ``latentmine`` command line.

Each sub-command lives in its own module in this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable
taking the parsed arguments and returning an exit status.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..errors import Starvation


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentmine",
        description="Suggestive labelling by adaptive latent space sampling.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileExistsError, FileNotFoundError, Starvation) as error:
        print(f"latentmine {args.command}: error: {error}", file=sys.stderr)
        return 2


def _version() -> str:
    from .. import __version__
    return __version__


if __name__ == "__main__":
    sys.exit(main())
