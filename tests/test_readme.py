"""The README's commands are the ones that work: CI runs the README's test command."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands():
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(), flags=re.S)


def test_ci_runs_the_readme_test_command():
    test_command = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"TEST_COMMAND='{test_command}'" in ci


def test_quick_start_main_job(tmp_path):
    """The quick start's main job, minus the install (done already), in a scratch folder."""
    main_job = readme_commands()[0]
    steps = [part.strip() for part in main_job.split("&&")]
    assert steps[0].startswith("pip install")
    for step in steps[1:]:
        argv = step.split()
        assert argv[:3] == ["python", "-m", "snngen"]
        result = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "net.json").exists()
    assert (tmp_path / "trace.npz").exists()
