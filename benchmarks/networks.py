"""The networks of the hardware-scaling figures (docs/results.md), seeded and deterministic.

    python benchmarks/networks.py mnist --out mnist.json     # 784-128-10, 8-bit weights
    python benchmarks/networks.py odin --out odin.json       # 256 neurons x 64 k synapses, 4-bit
    python benchmarks/networks.py cnn --out cnn.json         # 1×16×16 → conv 8×3×3 → pool → 10

``mnist`` is a dense 784-128-10 feed-forward network of the size Spiker+ and Fan & Levy report
for MNIST (trained weights are not needed for hardware figures: the synapse count, the fan-out
and the activity are what set memory and cycles). Weights are drawn from a rounded normal
distribution, clipped to the signed weight width; thresholds are set so that an input with
``mnist_input`` (about 100 of 784 pixels spiking per step, MNIST's mean rate-coded activity)
makes about one in ten hidden neurons spike per step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from snngen.model.network import (
    Layer,
    Network,
    NeuronModel,
    StateFormat,
    save_network,
)


def _weights(rng, shape, weight_bits, scale):
    top = 2 ** (weight_bits - 1) - 1
    return np.clip(np.rint(rng.normal(0, scale * top, shape)), -top - 1, top).astype(np.int64)


def mnist_network(weight_bits: int = 8, hidden: int = 128, seed: int = 0) -> Network:
    """784 inputs → `hidden` → 10, dense, layered (one group per layer at least)."""
    rng = np.random.default_rng(seed)
    inputs, outputs = 784, 10
    neurons = hidden + outputs
    top = 2 ** (weight_bits - 1) - 1
    weights = np.zeros((neurons, neurons), np.int64)
    weights[hidden:, :hidden] = _weights(rng, (outputs, hidden), weight_bits, 0.35)
    input_weights = np.zeros((neurons, inputs), np.int64)
    input_weights[:hidden] = _weights(rng, (hidden, inputs), weight_bits, 0.35)
    # About 100 active inputs of weight ~N(0, 0.35·top): θ ≈ 2.5 σ of the sum spikes ~10 %.
    hidden_threshold = int(2.5 * 0.35 * top * np.sqrt(100))
    output_threshold = int(2.0 * 0.35 * top * np.sqrt(0.1 * hidden))
    return Network(
        state=StateFormat(16, "signed", "saturate"),
        neuron=NeuronModel(leak_shift=3, threshold=hidden_threshold, reset="subtract"),
        weight_bits=weight_bits, weights=weights, input_weights=input_weights,
        layers=(Layer("hidden", hidden, weight_bits, hidden_threshold),
                Layer("output", outputs, weight_bits, output_threshold)),
        extra={"meta": {"benchmark": f"mnist-784-{hidden}-10, seed {seed}"}})


def odin_network(weight_bits: int = 4, seed: int = 0) -> Network:
    """ODIN's size (Frenkel et al. 2019): 256 neurons, all-to-all (65,536 recurrent synapses),
    8 inputs fanning out to every neuron, 8-bit state."""
    from snngen.model.generate import random_network

    return random_network(neurons=256, inputs=8, density=1.0, weight_bits=weight_bits, seed=seed)


def sparse_network(neurons: int, seed: int = 0) -> Network:
    """`neurons` neurons at density 0.1, 8 inputs, 8-bit state and weights (the scale rows)."""
    from snngen.model.generate import random_network

    return random_network(neurons=neurons, density=0.1, seed=seed)


def small_cnn_network(weight_bits: int = 8, seed: int = 0) -> Network:
    """1×16×16 → conv 8×3×3 (padding 1) → IF 8×16×16 → sum pool 2 → flatten → dense 10 → IF:
    the smallest convolutional network of the figures (format version 4)."""
    from snngen.model.structure import Conv2d, Dense, Flatten, Projection, SumPool2d

    rng = np.random.default_rng(seed)
    conv = Conv2d(_weights(rng, (8, 1, 3, 3), weight_bits, 0.4), padding=1)
    dense = Dense(_weights(rng, (10, 8 * 8 * 8), weight_bits, 0.2))
    top = 2 ** (weight_bits - 1)
    return Network(
        state=StateFormat(weight_bits + 4, "signed", "saturate"),
        neuron=NeuronModel(threshold=top, reset="subtract"), weight_bits=weight_bits,
        weights=None, input_weights=None,
        layers=(Layer("conv", 8 * 16 * 16, weight_bits, top, (8, 16, 16)),
                Layer("dense", 10, weight_bits, 2 * top)),
        projections=(Projection("input", "conv", (conv,)),
                     Projection("conv", "dense", (SumPool2d(2), Flatten(), dense))),
        input_shape=(1, 16, 16))


def mnist_input(steps: int, rate: float = 100 / 784, seed: int = 0) -> np.ndarray:
    """Bernoulli input spikes, (steps, 784) uint8: about 100 of 784 channels per step."""
    rng = np.random.default_rng(seed + 1)
    return (rng.random((steps, 784)) < rate).astype(np.uint8)


def cnn_input(steps: int, events: int = 2000, seed: int = 0) -> np.ndarray:
    """A moving-bar event stream for the small CNN's 1×16×16 input: `events` events in
    `steps` steps, (steps, 256) uint8 (snngen.quant.streams)."""
    from snngen.quant.streams import synthetic_streams

    streams, _ = synthetic_streams(1, steps, (1, 16, 16), events=events, kinds=("bar",),
                                   seed=seed)
    return streams[0]


def bit_exact_run(plan, steps: int, inputs: np.ndarray, name: str):
    """Run `plan`'s core in Amaranth's simulator for `steps` steps of `inputs` and stop the
    benchmark unless it matches the golden model spike for spike and state for state.

    Returns the RTL run and the synaptic updates each group made (zero weights of dense and
    kernel tables included), summed over the steps."""
    from snngen.model.golden import simulate
    from snngen.verify.amaranth import run_amaranth

    network = plan.network
    run = run_amaranth(plan, steps, inputs)
    expected = simulate(network, steps, inputs)
    if not (np.array_equal(run.spikes, expected.spikes)
            and np.array_equal(run.state, expected.state)):
        raise SystemExit(f"{name}: RTL is not bit-exact, benchmark refused")
    previous = np.vstack([np.zeros((1, network.neurons), np.uint8), expected.spikes[:-1]])
    updates = np.sum([plan.step_events(previous[t], inputs[t])[1] for t in range(steps)],
                     axis=0)
    return run, updates


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("network", choices=("mnist", "odin", "cnn"))
    parser.add_argument("--weight-bits", type=int, default=None, metavar="BITS",
                        help="weight width (default: 8 for mnist and cnn, 4 for odin)")
    parser.add_argument("--out", required=True, metavar="FILE.json")
    args = parser.parse_args(argv)
    factory = {"mnist": mnist_network, "odin": odin_network,
               "cnn": small_cnn_network}[args.network]
    network = factory() if args.weight_bits is None else factory(args.weight_bits)
    save_network(network, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
