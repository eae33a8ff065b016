"""The package layout's rules, read from the imports (ast) of every module in snngen/.

- the model (the contract) imports nothing else of snngen but the shared leaves;
- the hardware never imports its own test drivers, cocotb or a simulator;
- only the command line prints (library code reports through return values, exceptions and
  progress callbacks);
- nothing imports the command line (but ``python -m snngen``).

Each rule is also run on a small module that breaks it, so the checker itself can fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "snngen"
SUBPACKAGES = ("model", "hw", "verify", "synth", "study", "quant", "board", "cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(name: str, source: str, is_package: bool = False) -> set[str]:
    """Every module `source` imports, anywhere in it (function-level imports too), absolute."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            # `from . import plots` imports the module snngen.study.plots
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def terminal_output(source: str) -> list[str]:
    """What in `source` writes to the terminal: print(), sys.stdout/stderr, tqdm."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "print":
            found.append(f"print() on line {node.lineno}")
        elif isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") \
                and isinstance(node.value, ast.Name) and node.value.id == "sys":
            found.append(f"sys.{node.attr} on line {node.lineno}")
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


FORBIDDEN = {
    "snngen.model": [f"snngen.{p}" for p in SUBPACKAGES if p != "model"],
    "snngen.hw": ["snngen.verify", "snngen.synth", "snngen.board", "snngen.cli", "cocotb",
                  "cocotb_tools", "amaranth.sim", "snngen_sim"],
    "snngen.board": ["snngen.cli"], "snngen.verify": ["snngen.cli"], "snngen.synth": ["snngen.cli"],
    "snngen.study": ["snngen.cli"], "snngen.quant": ["snngen.cli"], "snngen": ["snngen.cli", "tqdm"],
}
# The entry point is the one module that may import the command line.
ENTRY_POINT = "snngen.__main__"


def violations(name: str, source: str, is_package: bool = False) -> list[str]:
    found = []
    imported = imports_of(name, source, is_package)
    for owner, banned in FORBIDDEN.items():
        if not within(name, owner) or within(name, "snngen.cli") or name == ENTRY_POINT:
            continue
        for module in sorted(imported):
            for ban in banned:
                if within(module, ban):
                    found.append(f"{name} imports {module} ({owner} must not import {ban})")
    if not within(name, "snngen.cli") and name != ENTRY_POINT:
        found.extend(f"{name} writes to the terminal: {what}" for what in terminal_output(source))
    return found


def all_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", all_modules(), ids=module_name)
def test_module_follows_the_layout_rules(path):
    assert violations(module_name(path), path.read_text(), path.name == "__init__.py") == []


@pytest.mark.parametrize(("name", "source", "rule"), [
    ("snngen.model.golden", "from ..hw.plan import plan_hardware\n", "snngen.hw"),
    ("snngen.model.network", "def f():\n    from snngen.quant import demo\n", "snngen.quant"),
    ("snngen.hw.core", "from ..verify.amaranth import run_amaranth\n", "snngen.verify"),
    ("snngen.hw.group", "from amaranth.sim import Simulator\n", "amaranth.sim"),
    ("snngen.hw.router", "import cocotb\n", "cocotb"),
    ("snngen.synth.sweep", "from ..cli.common import ProgressBar\n", "snngen.cli"),
    ("snngen.study.explore", "from tqdm import tqdm\n", "tqdm"),
    ("snngen.quant.demo", "print('done')\n", "terminal"),
    ("snngen.board.host", "import sys\nsys.stderr.write('x')\n", "terminal"),
])
def test_the_checker_catches_a_broken_rule(name, source, rule):
    found = violations(name, source)
    assert found, f"{rule}: not caught"
    assert any(rule in line for line in found) or (rule == "terminal" and any(
        "terminal" in line for line in found))


def test_the_command_line_and_entry_point_may_print():
    assert violations("snngen.cli.network", "print('wrote')\n") == []
    assert violations(ENTRY_POINT, "from .cli import main\n", False) == []


def test_every_subpackage_is_in_the_code_map_and_the_readme():
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    readme = (ROOT / "README.md").read_text()
    code_map = architecture.split("## Code map", 1)[1].split("\n## ", 1)[0]
    for sub in SUBPACKAGES:
        assert (PACKAGE / sub / "__init__.py").is_file(), sub
        assert f"snngen/{sub}/" in code_map, f"snngen/{sub}/ missing from the code map"
        assert f"snngen/{sub}/" in readme, f"snngen/{sub}/ missing from the README's layout"
    # Every module the code map names exists.
    for named in re.findall(r"`snngen/([\w/]+\.py)`", code_map):
        assert (PACKAGE / named).is_file(), f"the code map names snngen/{named}, not in the tree"
    modules = {str(p.relative_to(PACKAGE)) for p in all_modules() if p.name != "__init__.py"}
    missing = sorted(m for m in modules if f"`snngen/{m}`" not in code_map)
    assert missing == [], f"modules missing from the code map: {missing}"


def test_the_public_api_is_importable():
    import snngen

    for name in snngen.__all__:
        assert hasattr(snngen, name), name
    from snngen import find_orbit, simulate, simulate_batch  # the README's example
    from snngen.model.generate import random_network

    assert callable(find_orbit) and callable(simulate) and callable(simulate_batch)
    assert callable(random_network)
