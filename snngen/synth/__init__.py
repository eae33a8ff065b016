"""Synthesis, place and route with yosys and nextpnr (YoWASP), design-space sweeps, and finding
the external tools."""
