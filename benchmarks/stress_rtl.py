"""Random-configuration stress run of the RTL in Amaranth's simulator against the golden model.

    python benchmarks/stress_rtl.py [--seed S] [--seconds 900]

Draws networks with N 1–130 (by size class: 15 % at 1–3 neurons, 30 % at 4–16, 25 % at 17–63,
30 % at 64–130), 3–16 bits, every representation, overflow and reset, G 1–9 or N,
random input rates, random backpressure on a third of the runs, runtime weights on a third,
layers (format version 2: per-layer widths, per-layer or per-neuron thresholds) on a third, and
semantics v2 (format version 3: a synaptic current with its own lattice, every decay mode with
per-neuron parameters, rails, compare, staged sums, refractory periods, biases and bias delays,
weight shifts, input counts, per-event accumulation into saturating and wrapping currents,
multi-spike up to 31) on a third, until the time budget is spent;
prints each failing configuration (and pickles it under ./stress_failures/), what it tried (by
size class and group count, and how often each option), and a final count.
"""

import argparse
import collections
import itertools
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from rtl_cases import random_case

from snngen.hw.plan import bits_for_range, plan_hardware
from snngen.model.generate import random_network
from snngen.model.golden import simulate
from snngen.model.network import (
    Current,
    Dynamics,
    Layer,
    NeuronModel,
    StateFormat,
    network_to_json,
)
from snngen.verify.amaranth import run_amaranth


def layered(network, rng):
    """The same network split into 2–4 layers (format version 2): each layer declares the
    narrowest weight width its rows need, and gets its own threshold or, half the time, every
    neuron its own."""
    n = network.neurons
    count = rng.randint(2, min(4, n))
    cuts = sorted(rng.sample(range(1, n), count - 1))
    bounds = [0, *cuts, n]
    incoming = np.concatenate([network.weights, network.input_weights], axis=1)
    state = network.state
    per_neuron = rng.random() < 0.5
    layers = []
    for index, (first, end) in enumerate(itertools.pairwise(bounds)):
        rows = incoming[first:end]
        low, high = int(min(rows.min(initial=0), -1)), int(max(rows.max(initial=0), 0))
        width, _ = bits_for_range(low, high)
        threshold = None if per_neuron else rng.randint(max(1, state.min), state.max)
        layers.append(Layer(f"L{index}", end - first, min(width, network.weight_bits), threshold))
    thresholds = (np.array([rng.randint(max(1, state.min), state.max) for _ in range(n)])
                  if per_neuron else None)
    return network.replace(layers=tuple(layers), neuron_thresholds=thresholds)


def with_dynamics(network, rng):
    """The network under random semantics-v2 options the hardware generator implements."""
    n = network.neurons
    state = network.state
    np_rng = np.random.default_rng(rng.randint(0, 10**6))
    symmetric = state.signed and rng.random() < 0.3
    if symmetric:
        state = StateFormat(state.bits, state.representation, state.overflow, "symmetric")

    def decay(bits):
        mode = rng.choice(["none", "shift", "shift_min1", "multiply"])
        top = {"none": 0, "multiply": 4096}.get(mode, bits - 1)
        values = np_rng.integers(0, top + 1, size=n)
        return mode, values if rng.random() < 0.5 else int(values[0])

    current = None
    if rng.random() < 0.7:
        cbits = rng.randint(2, min(32, state.bits + 8))
        crep = rng.choice(["signed", "unsigned"])
        cfmt = StateFormat(cbits, crep, rng.choice(["saturate", "wrap"]),
                           "symmetric" if crep == "signed" and rng.random() < 0.3 else "full")
        mode, parameter = decay(cbits)
        current = Current(cfmt, mode, parameter,
                          rng.choice(["decay_then_add", "add_then_decay"]),
                          np_rng.integers(cfmt.min, cfmt.max + 1, size=n),
                          np_rng.integers(cfmt.min, cfmt.max + 1, size=n) // 4
                          if rng.random() < 0.5 else 0)
    mode, parameter = decay(state.bits)
    dynamics = Dynamics(
        current=current, membrane_decay=mode, membrane_decay_parameter=parameter,
        # Per-event accumulation into any current (a saturating one keeps the events' order).
        accumulate="per_event" if current is not None and rng.random() < 0.5 else "exact",
        membrane_sum="staged" if state.signed and rng.random() < 0.4 else "exact",
        compare=rng.choice([">=", ">"]),
        refractory=np_rng.integers(0, 4, size=n) if rng.random() < 0.4 else 0,
        weight_shift=rng.randint(0, 3), input_weight_shift=np_rng.integers(0, 3, size=n),
        input_max_count=rng.choice([1, 3]),
        bias_delay=np_rng.integers(0, 4, size=n) if rng.random() < 0.3 else 0,
        # Multi-spike needs a subtractive reset (repeated subtraction).
        max_spikes=np_rng.integers(1, 32, size=n)
        if network.neuron.reset.value == "subtract" and rng.random() < 0.4 else 1)
    neuron = NeuronModel(threshold=min(network.neuron.threshold, state.max), leak_shift=None,
                         reset=network.neuron.reset,
                         reset_value=int(np.clip(network.neuron.reset_value, state.min,
                                                 state.max)))
    clip = (state.min, state.max)
    return network.replace(
        state=state, neuron=neuron, dynamics=dynamics,
        bias=np.clip(network.bias, *clip), initial_state=np.clip(network.initial_state, *clip),
        neuron_thresholds=None if network.neuron_thresholds is None
        else np.clip(network.neuron_thresholds, max(1, state.min), state.max))


SIZE_CLASSES = {"tiny": (1, 3), "small": (4, 16), "medium": (17, 63), "large": (64, 130)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=900)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start, passed, failed = time.time(), 0, 0
    tried = collections.Counter()
    options = collections.Counter()
    while time.time() - start < args.seconds:
        bits = rng.randint(3, 16)
        representation = rng.choice(["signed", "unsigned"])
        overflow = rng.choice(["saturate", "wrap"])
        reset = rng.choice(["zero", "subtract", "none"])
        # Sizes by class, not uniformly by count: small networks simulate fastest, so a uniform
        # draw would spend the budget almost only on them.
        size_class = rng.choices(list(SIZE_CLASSES), weights=[0.15, 0.3, 0.25, 0.3])[0]
        neurons = rng.randint(*SIZE_CLASSES[size_class])
        inputs_count = rng.randint(0, 5)
        groups = rng.randint(1, min(neurons, 9)) if rng.random() < 0.8 else neurons
        seed = rng.randint(0, 10**6)
        if rng.random() < 0.5:
            network = random_case(seed, bits, representation, overflow, reset, neurons=neurons,
                                  inputs=inputs_count,
                                  density=rng.choice([0.05, 0.2, 0.5, 1.0]),
                                  weight_bits=rng.randint(1, min(bits + 2, 16)))
        else:
            network = random_network(neurons=neurons, inputs=inputs_count, bits=bits,
                                     representation=representation, overflow=overflow,
                                     reset=reset, seed=seed,
                                     density=rng.choice([0.05, 0.2, 0.5]))
        if rng.random() < 0.3 and network.neurons >= 2:
            network = layered(network, rng)
            groups = min(max(groups, len(network.layers)), network.neurons)
        if rng.random() < 0.33:
            network = with_dynamics(network, rng)
        steps = rng.randint(1, 12)
        x = (np.random.default_rng(seed).random((steps, inputs_count)) < rng.random()
             ).astype(np.uint8)
        if network.dynamics is not None:
            x = x * np.random.default_rng(seed).integers(
                1, network.dynamics.input_max_count + 1, size=x.shape).astype(np.uint8)
        stall = seed if rng.random() < 0.3 else None
        runtime_weights = rng.random() < 0.3
        tried[(size_class, "G=1" if groups == 1 else "G=2-9" if groups <= 9 else "G=N")] += 1
        for option, used in (("semantics v2", network.dynamics is not None),
                             ("layers", bool(network.layers)),
                             ("runtime weights", runtime_weights), ("backpressure", stall)):
            options[option] += bool(used)
        run = run_amaranth(plan_hardware(network, groups, runtime_weights=runtime_weights),
                           steps, x, stall_seed=stall)
        expected = simulate(network, steps, x)
        if (np.array_equal(run.state, expected.state)
                and np.array_equal(run.spikes, expected.spikes)
                and (expected.current is None or np.array_equal(run.current, expected.current))
                and run.end_counts == [len(e) for e in run.events]):
            passed += 1
            continue
        failed += 1
        print(f"FAIL bits={bits} {representation} {overflow} {reset} N={neurons} "
              f"v2={network.dynamics is not None} "
              f"K={inputs_count} G={groups} seed={seed} steps={steps} stall={stall} "
              f"runtime_weights={runtime_weights}", flush=True)
        folder = Path("stress_failures")
        folder.mkdir(exist_ok=True)
        # The network as its network.json text: a Network's read-only mappings do not pickle.
        with open(folder / f"fail_{seed}.pkl", "wb") as file:
            pickle.dump((network_to_json(network), groups, steps, x, stall, runtime_weights),
                        file)
    print("tried (networks by size and groups):")
    for size_class in SIZE_CLASSES:
        cells = [f"{g} {tried[(size_class, g)]}" for g in ("G=1", "G=2-9", "G=N")]
        low, high = SIZE_CLASSES[size_class]
        print(f"  N {low:>3}-{high:<3}  " + ", ".join(cells))
    print("  with " + ", ".join(f"{option} {count}" for option, count in options.items()))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
