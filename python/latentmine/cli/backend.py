"""``latentmine backend``: what this installation can run on."""
import json


def register(subparsers):
    parser = subparsers.add_parser("backend", help="report the CPU and CUDA backends available here")
    parser.set_defaults(func=run)


def run(args) -> int:
    from .. import backend
    print(json.dumps(backend.report(), indent=2))
    return 0
