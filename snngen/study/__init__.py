"""The integer-state dynamics study: exact orbits and regimes over a grid, and its plots."""
