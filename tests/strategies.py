"""Hypothesis strategies: random network.json documents over every semantics option."""

import numpy as np
from hypothesis import strategies as st

REPRESENTATIONS = ("signed", "unsigned")
OVERFLOWS = ("saturate", "wrap")
RESETS = ("zero", "subtract", "none")


def lattice(bits, representation):
    if representation == "signed":
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


@st.composite
def network_documents(draw, max_neurons=10, max_inputs=4, bits=None, weight_bits=None):
    """A valid network.json document (a dict), drawn over every option."""
    b = draw(bits if bits is not None else st.integers(2, 16))
    representation = draw(st.sampled_from(REPRESENTATIONS))
    overflow = draw(st.sampled_from(OVERFLOWS))
    reset = draw(st.sampled_from(RESETS))
    lo, hi = lattice(b, representation)
    bw = draw(weight_bits if weight_bits is not None else st.integers(1, min(b + 2, 16)))
    wlo, whi = -(1 << (bw - 1)), (1 << (bw - 1)) - 1
    n = draw(st.integers(1, max_neurons))
    k = draw(st.integers(0, max_inputs))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from((0.0, 0.2, 0.5, 1.0)))
    rng = np.random.default_rng(seed)
    # Weights skewed towards the extremes now and then, so overflow paths are exercised.
    extreme = draw(st.booleans())
    if extreme:
        weights = rng.choice([wlo, whi, 0, wlo // 2, whi // 2], size=(n, n))
        inputs = rng.choice([wlo, whi, 0], size=(n, k))
    else:
        weights = rng.integers(wlo, whi + 1, size=(n, n))
        inputs = rng.integers(wlo, whi + 1, size=(n, k))
    weights = weights * (rng.random((n, n)) < density)
    return {
        "format": "snngen-network",
        "version": 1,
        "neurons": n,
        "inputs": k,
        "state_bits": b,
        "weight_bits": bw,
        "representation": representation,
        "overflow": overflow,
        "leak_shift": draw(st.none() | st.integers(1, b - 1)),
        "threshold": draw(st.integers(max(1, lo), hi)),
        "reset": reset,
        "reset_value": draw(st.integers(lo, hi)),
        "weights": weights.tolist(),
        "input_weights": inputs.tolist(),
        "bias": rng.integers(lo, hi + 1, size=n).tolist() if draw(st.booleans()) else [0] * n,
        "initial_state": rng.integers(lo, hi + 1, size=n).tolist(),
    }


@st.composite
def runs(draw, documents=None, max_steps=40):
    """(document, steps, inputs as a list of 0/1 rows)."""
    doc = draw(documents if documents is not None else network_documents())
    steps = draw(st.integers(1, max_steps))
    seed = draw(st.integers(0, 2**32 - 1))
    rate = draw(st.sampled_from((0.0, 0.3, 1.0)))
    x = (np.random.default_rng(seed).random((steps, doc["inputs"])) < rate).astype(np.uint8)
    return doc, steps, x
