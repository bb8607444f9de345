"""Every shell command in README.md and docs/*.md runs (verbatim, or as the cheap variant in docs_commands).

The rule for which commands run and how each is made cheap is in
``tests/docs_commands.py``; this file checks the extraction on hand-written
text and then runs every document's commands in a scratch copy of the
repository.
"""
import json
import subprocess

import pytest

import docs_commands
from docs_commands import cheap_arguments, documented_commands, fenced_commands, not_run_reason

#: Seconds one documented command may take in its cheap variant.
COMMAND_TIMEOUT = 300
SAMPLE = """\
Text with `latentmine inline` code, not run.

```bash
.venv/bin/latentmine phantoms --n 8 \\
    --param 'cap_thickness_um=[50, 65]' --out data/a   # a comment
# a comment line

echo "a # inside quotes" #trailing
```

```python
print("not a shell command")
```

```
.venv/bin/latentmine not-run --placeholder DIR
```
````bash
echo four backticks
````
"""


def test_only_bash_blocks_are_extracted_with_continuations_joined_and_comments_dropped():
    assert fenced_commands(SAMPLE) == [
        (4, ".venv/bin/latentmine phantoms --n 8      --param 'cap_thickness_um=[50, 65]' --out data/a"),
        (8, 'echo "a # inside quotes"'),
        (19, "echo four backticks"),
    ]


def test_cheap_variants_append_options_that_override_the_documented_ones():
    assert cheap_arguments("latentmine", ["phantoms", "--n", "1200", "--out", "d"]) == [
        "phantoms", "--n", "1200", "--out", "d", "--n", "4", "--size", "64"]
    assert cheap_arguments("latentmine", ["run", "--resume", "runs/grad", "--rounds", "8"])[-2:] == ["--rounds", "2"]
    assert cheap_arguments("latentmine", ["ingest", "runs/grad", "labels/"]) == ["ingest", "--help"]
    assert cheap_arguments("python", ["-m", "pytest", "benchmarks/bench_ops.py"])[-2:] == ["--collect-only", "-q"]
    assert cheap_arguments("dask", ["worker", "tcp://127.0.0.1:8786", "--nworkers", "2"]) == ["worker", "--help"]
    assert cheap_arguments("latentmine", ["suggest", "runs/grad"]) == ["suggest", "runs/grad"]
    assert not_run_reason("bash scripts/setup.sh --no-run") and not_run_reason("bash scripts/test.sh")
    assert not_run_reason("bash scripts/dev-build.sh") is None


def test_the_docs_document_commands():
    found = documented_commands()
    assert "README.md" in found and "docs/scale-out.md" in found, sorted(found)


@pytest.mark.slow
@pytest.mark.parametrize("document", sorted(documented_commands()))
def test_documented_commands_run(document, tmp_path):
    scratch, log = tmp_path / "repo", tmp_path / "calls.jsonl"
    docs_commands.scratch_copy(docs_commands.REPO, scratch)
    docs_commands.write_wrappers(scratch / ".venv" / "bin", log)
    env = docs_commands.command_environment()
    ran = 0
    for line, command in documented_commands()[document]:
        if not_run_reason(command):
            continue
        # `wait`: commands that start jobs with `&` finish them before the next one runs; the
        # command's own status is kept.
        script = f"{command}\nstatus=$?\nwait\nexit $status"
        done = subprocess.run(["bash", "-c", script], cwd=scratch, env=env, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT)
        assert done.returncode == 0, (f"{document}:{line}: `{command}` exited with {done.returncode}\n"
                                      f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        ran += 1
    calls = [json.loads(row) for row in log.read_text().splitlines()] if log.exists() else []
    failed = [call for call in calls if call["status"] != 0]
    assert not failed, failed
    assert ran > 0 or all(not_run_reason(c) for _, c in documented_commands()[document])


def test_a_study_dry_run_checks_the_settings_and_writes_nothing(tmp_path, capsys):
    from latentmine.cli import main
    from latentmine.study import preset

    out = tmp_path / "study"
    assert main(["study", "--preset", "smoke", "--out", str(out), "--set", "repeats=3", "--dry-run"]) == 0
    config = preset("smoke")
    assert f"{len(config.strategies) * 3} cells" in capsys.readouterr().out
    assert not out.exists()
    assert main(["study", "--preset", "smoke", "--out", str(out), "--set", "no_such_setting=1", "--dry-run"]) == 2
    assert "no_such_setting" in capsys.readouterr().err and not out.exists()
