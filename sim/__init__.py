"""Modules a simulator loads: the cocotb testbenches of a generated core (installed as snngen_sim).

- ``snngen_harness.sv``: a Verilog harness that runs a whole stimulus with no Python per cycle.
- ``test_snngen.py``: the cocotb tests: the harness run with its scoreboard, and the Python-driven
  ``SnnTB`` tests (random backpressure, reset in the middle of a run).
"""

from pathlib import Path

HARNESS = Path(__file__).with_name("snngen_harness.sv")
