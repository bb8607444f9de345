"""The shell commands documented in README.md and docs/*.md, and the cheap variants the tests run.

**Which commands.** Every line of a fenced block opened with exactly
```` ```bash ```` is one command; a line ending in ``\\`` continues on the next,
and ``# comments`` are dropped. Blocks of any other language (``python``,
``text``, a bare fence) are not run: use them for synopses with placeholders,
output, or commands that need hardware CI lacks (docs/gpu.md).

**How they run** (``tests/test_docs_commands.py``). The commands of one
document run in order, as written, with ``bash`` in a scratch copy of the
repository (so a command can read what an earlier one in the same document
wrote, and nothing in the checkout is touched), and each must exit with
status 0. The scratch copy's ``.venv/bin/`` holds wrappers for ``python``,
``latentmine`` and ``dask``: they run the real executables of the
environment the tests run in, with the arguments changed as
:func:`cheap_arguments` says, and record every call. ``PATH`` does not hold
the environment's ``bin/``, so a command must name ``.venv/bin/...`` as a
user right after ``bash scripts/setup.sh`` would have to.

**Cheap variants** (argparse keeps the last value of a repeated option, so
appended options win over the documented ones):

==========================================  ================================================
command                                     runs as
==========================================  ================================================
``bash scripts/setup.sh``, ``scripts/test.sh``  not run: the tests run inside what set-up made,
                                            and test.sh runs these tests
``.venv/bin/python -m pytest ...``          ``... --collect-only -q`` (files, options and
                                            ``-k`` selections are checked, modules imported;
                                            the suite runs the tests, benchmarks take minutes)
``.venv/bin/python benchmarks/SCRIPT.py``   profile_fea, profile_parallel, pss_convergence:
                                            64-pixel sizes, one repeat or case; surrogate_quality:
                                            4 labels, a 2-step budget (``PROFILES``)
``latentmine phantoms``                     ``--n 4 --size 64``
``latentmine label``                        ``--size 64`` (the built-in example; given masks
                                            keep theirs)
``latentmine train-vae``                    ``--epochs 1``
``latentmine run`` (new run)                ``--rounds 1 --per-round 1 --initial 1 --epochs 1
                                            --strategy random --set initial_strategy=random``
                                            (a one-epoch VAE decodes no valid mask)
``latentmine run --resume``                 ``--rounds 2`` (one more round)
``latentmine demo``                         its own pool and VAE, 8 test frames, one round
                                            of 4, one F epoch
``latentmine study``                        ``--dry-run`` (settings checked, cells listed)
``latentmine ingest``                       ``--help`` (needs labels a person wrote)
``dask ...``                                ``dask SUBCOMMAND --help`` (a scheduler and workers
                                            would outlive the test)
anything else                               verbatim
==========================================  ================================================
"""
from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Where the tests look for documented commands.
DOCUMENTS = ("README.md", "docs/*.md")
#: Commands that are never run, with the reason.
NOT_RUN = {
    "bash scripts/setup.sh": "the set-up command itself: these tests run in the environment it made",
    "bash scripts/test.sh": "runs the whole suite, these tests included",
}
#: Options appended to ``latentmine SUBCOMMAND`` (later values win in argparse).
LATENTMINE = {
    "phantoms": ["--n", "4", "--size", "64"],
    "label": ["--size", "64"],
    "train-vae": ["--epochs", "1"],
    # A one-epoch VAE of a 4-frame pool decodes no mask the FE gate accepts, and the loop refuses
    # to starve: the cheap variant acquires real samples (the random baseline) instead, one a
    # round, so that the 4-frame pool still has samples for the suggest command after a resume.
    "run": ["--rounds", "1", "--per-round", "1", "--initial", "1", "--epochs", "1", "--strategy", "random",
            "--set", "initial_strategy=random"],
    "run --resume": ["--rounds", "2"],
    # The demo's own VAE (default pool and epochs): a barely trained one decodes no valid mask,
    # and the gradient rounds would starve.
    "demo": ["--test", "8", "--rounds", "1", "--per-round", "4", "--epochs", "1"],
    "study": ["--dry-run"],
}
#: ``latentmine`` subcommands replaced by their ``--help``.
HELP_ONLY = ("ingest",)
#: Options appended to profiling scripts run with ``.venv/bin/python SCRIPT``.
PROFILES = {
    "benchmarks/profile_fea.py": ["--size", "64", "--repeats", "1"],
    "benchmarks/profile_parallel.py": ["--masks", "2", "--size", "64", "--settings", "single,pool-2"],
    "benchmarks/pss_convergence.py": ["--sizes", "64", "--cases", "lame"],
    "benchmarks/surrogate_quality.py": ["--sizes", "4", "--budgets", "2"],
}
WRAPPED = ("python", "latentmine", "dask")
_FENCE = re.compile(r"^(\s*)(`{3,})(.*)$")


def fenced_commands(text: str):
    """``(line number, command)`` of every command in the ```` ```bash ```` blocks of ``text``."""
    commands, block, fence, pending, start = [], None, "", "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if match and block is None:
            block, fence = match.group(3).strip(), match.group(2)
            continue
        if match and block is not None and match.group(2).startswith(fence) and not match.group(3).strip():
            block = None
            continue
        if block != "bash":
            continue
        if not pending:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        command = _without_comment(pending + stripped).strip()
        pending = ""
        if command:
            commands.append((start, command))
    return commands


def _without_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` inside quotes or a word is kept)."""
    quote, previous = None, " "
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and previous.isspace():
            return line[:i]
        previous = char
    return line


def documented_commands(root: Path = REPO):
    """``{document: [(line, command), ...]}`` for README.md and docs/*.md under ``root``."""
    found = {}
    for pattern in DOCUMENTS:
        for path in sorted(root.glob(pattern)):
            commands = fenced_commands(path.read_text())
            if commands:
                found[path.relative_to(root).as_posix()] = commands
    return found


def not_run_reason(command: str):
    """Why ``command`` is not run, or None."""
    for prefix, reason in NOT_RUN.items():
        if command == prefix or command.startswith(prefix + " "):
            return reason
    return None


def cheap_arguments(program: str, args: list) -> list:
    """The arguments the wrapper of ``program`` passes on instead of ``args``."""
    if program == "dask":
        return args[:1] + ["--help"]
    if program == "python":
        if args[:2] == ["-m", "pytest"]:
            return args + ["--collect-only", "-q"]
        if args and args[0] in PROFILES:
            return args + PROFILES[args[0]]
        return args
    if program == "latentmine" and args:
        if args[0] in HELP_ONLY:
            return args[:1] + ["--help"]
        key = "run --resume" if args[0] == "run" and "--resume" in args else args[0]
        return args + LATENTMINE.get(key, [])
    return args


def write_wrappers(bin_dir: Path, log: Path) -> None:
    """Executables ``python``, ``latentmine``, ``dask`` in ``bin_dir`` that run the cheap variants."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for program in WRAPPED:
        wrapper = bin_dir / program
        wrapper.write_text(f"#!{sys.executable}\n"
                           f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                           f"import docs_commands\n"
                           f"sys.exit(docs_commands.run_wrapped({program!r}, sys.argv[1:], {str(log)!r}))\n")
        wrapper.chmod(0o755)


def real_executable(program: str) -> str:
    """The environment's own ``program`` (beside the interpreter running the tests)."""
    return sys.executable if program == "python" else str(Path(sys.executable).with_name(program))


def run_wrapped(program: str, args: list, log: str) -> int:
    """Wrapper body: run ``program`` with its cheap arguments and append the call to ``log``."""
    ran = cheap_arguments(program, args)
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    status = subprocess.call([real_executable(program), *ran])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    record = dict(program=program, args=args, ran=ran, status=status, seconds=time.perf_counter() - start,
                  cpu_seconds=after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    with open(log, "a") as out:
        out.write(json.dumps(record) + "\n")
    return status


def scratch_copy(root: Path, scratch: Path) -> None:
    """Link the repository's files into ``scratch``; outputs and ``.venv`` stay apart.

    ``benchmarks/`` is a real folder of links with an empty ``results/``, so a
    documented ``--benchmark-json benchmarks/results/...`` never reaches the
    committed results.
    """
    skip = {".git", ".venv", "runs", "data", "build", "benchmarks", "todo", "labels"}
    scratch.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.name not in skip:
            (scratch / entry.name).symlink_to(entry)
    (scratch / "benchmarks" / "results").mkdir(parents=True)
    for entry in (root / "benchmarks").iterdir():
        if entry.name != "results" and entry.name != "__pycache__":
            (scratch / "benchmarks" / entry.name).symlink_to(entry)


def command_environment() -> dict:
    """The environment of the documented commands: this one without the venv's ``bin/`` on PATH."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and os.path.realpath(p) != os.path.realpath(venv_bin))
    return env
