"""The curated ruff rule set of pyproject.toml holds over the whole tree."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    result = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True,
                            text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# How the work was organized is not the product: issue numbers and work sessions stay out of
# what users read (docs, the README, messages and reports the package writes, benchmarks).
DEVELOPMENT_NOTE = re.compile(
    r"(\bissues?\s*#?\d+|(?<![\w&])#[1-9]\d*\b|\bsessions?\s+\d+|\b(this|last|same|one|that)\s+"
    r"session|session'?s\b|the issue's)", re.IGNORECASE)


def test_user_files_do_not_speak_of_issues_or_sessions():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "snngen").rglob("*.py")), *sorted((ROOT / "benchmarks").glob("*.py"))]
    found = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = DEVELOPMENT_NOTE.search(line)
            if match:
                found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)!r}")
    assert not found, "\n".join(found)
