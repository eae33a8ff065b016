"""The NIR paper's braille network at 16 and 8 bits and the auto width, against its float model.

    python benchmarks/bench_braille.py [--samples 500] [--steps 256] [--json out.json]

``../shared/nir/braille_noDelay_bias_zero.nir`` (12 inputs → 38 recurrent CubaLIF → 7 CubaLIF,
trained in snnTorch, reset to zero) is quantized with :func:`snngen.quant.quantize.quantize_model`
(per-neuron scales, states sized on a calibration stimulus) and run in the golden model on random
12-channel spike trains at rates 0.02, 0.05, 0.1, 0.2 and 0.4 (the data set is not available).
The judge is :func:`snngen.quant.nir_import.simulate_float`, the graph's own float semantics:
output-class agreement (the output neuron with the most spikes; a tie in the float model counts
as agreement when the integer network picks one of the tied neurons) and spike agreement per
layer (the integer layer at depth ℓ re-timed by ℓ − 1 steps). The auto width takes Hutchinson
Hessian traces on 128 other trains labelled by the float model, within 42 % of the uniform 8-bit
weight memory (PyTorch needed; skipped without it). The last two rows are the graph on Loihi's
neuron (``snngen import --compat loihi``) and on Xylo's (``--compat xylo``).
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from snngen.model.golden import simulate_batch
from snngen.quant.nir_import import import_nir_compat, nir_to_float, simulate_float
from snngen.quant.quantize import allocate_bits, parse_budget, quantize_model, weight_memory_bits

BRAILLE = Path(__file__).resolve().parents[2] / "shared" / "nir" / "braille_noDelay_bias_zero.nir"
RATES = (0.02, 0.05, 0.1, 0.2, 0.4)


def stimulus(samples: int, steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rates = np.array([RATES[i % len(RATES)] for i in range(samples)])[:, None, None]
    return (rng.random((samples, steps, 12)) < rates).astype(np.uint8)


def rounded_twin(model, network):
    """The float model with the integer network's own rounded weights, biases and decays:
    what is left between the two is the integer arithmetic (rounding of the decays,
    saturation), not the quantization of the parameters."""
    theta = np.broadcast_to(np.asarray(network.thresholds, dtype=np.float64),
                            (network.neurons,))
    dyn = network.dynamics

    def keep(mode, parameter):
        if mode.value == "multiply":
            return 1 - parameter / 4096
        return 1 - 2.0 ** -parameter.astype(np.float64)  # x − (x >> k)

    current_keep = keep(dyn.current.decay, dyn.current.decay_parameter)
    scale_rec = (1 << dyn.weight_shift) / theta
    scale_in = (1 << dyn.input_weight_shift) / theta
    if dyn.current.order.value == "add_then_decay":
        # Xylo decays after adding: an event reaches the membrane already times α.
        scale_rec, scale_in = scale_rec * current_keep, scale_in * current_keep
    return dataclasses.replace(
        model, recurrent=network.weights * scale_rec[:, None],
        incoming=network.input_weights * scale_in[:, None], bias=network.bias / theta,
        dynamics=dataclasses.replace(
            model.dynamics, current_bias=dyn.current.bias / theta,
            current_keep=current_keep,
            membrane_keep=keep(dyn.membrane_decay, dyn.membrane_decay_parameter)))


def classes_agree(want: np.ndarray, got: np.ndarray) -> bool:
    counts_want, counts_got = want[:, 38:].sum(0), got[:, 38:].sum(0)
    return int(np.argmax(counts_got)) in np.flatnonzero(counts_want == counts_want.max())


def agreement(model, network, inputs, floats) -> dict:
    depth = model.dynamics.depth
    extra = int(depth.max()) - 1
    samples, steps, _ = inputs.shape
    padded = np.concatenate([inputs, np.zeros((samples, extra, 12), np.uint8)], axis=1)
    spikes = simulate_batch([network] * samples, steps + extra, list(padded),
                            record_state=False).spikes
    twin = rounded_twin(model, network)
    classes, twin_classes, twin_spikes = 0, 0, 0.0
    per_layer = np.zeros(len(model.layers))
    for sample in range(samples):
        got = np.stack([spikes[sample, d - 1:d - 1 + steps, i] for i, d in enumerate(depth)],
                       axis=1)
        want = floats[sample]
        classes += classes_agree(want, got)
        twin_run = simulate_float(twin, inputs[sample])
        twin_classes += classes_agree(want, twin_run)
        twin_spikes += (twin_run == got).mean()
        for index in range(len(model.layers)):
            rows = model.layer_rows(index)
            per_layer[index] += (got[:, rows] == want[:, rows]).mean()
    return {"class_agreement": classes / samples,
            "rounded_float_class_agreement": twin_classes / samples,
            "integer_vs_rounded_float_spikes": twin_spikes / samples,
            "spike_agreement": {layer["name"]: float(per_layer[i] / samples)
                                for i, layer in enumerate(model.layers)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=500, help="spike trains (default 500)")
    parser.add_argument("--steps", type=int, default=256, help="steps a train (default 256)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    model = nir_to_float(BRAILLE, dt=1e-4)
    inputs = stimulus(args.samples, args.steps, 2026)
    started = time.perf_counter()
    floats = [simulate_float(model, sample) for sample in inputs]
    float_seconds = time.perf_counter() - started
    widths = {"16": [16, 16], "8": [8, 8]}
    try:
        from snngen.quant.train import hutchinson_traces

        train = stimulus(128, args.steps, 7)
        labels = np.array([np.argmax(simulate_float(model, x)[:, 38:].sum(0)) for x in train])
        traces = hutchinson_traces(model, train, labels, probes=16, reset="zero")
        auto, _ = allocate_bits(model, traces, parse_budget("42%", model))
        widths["auto"] = [int(b) for b in auto]
    except (ImportError, RuntimeError, ValueError) as error:  # reported: no PyTorch, …
        print(f"auto width skipped: {error}", file=sys.stderr)
    rows = []
    print("| width | weight bits per layer | weight memory (bits) | state / current bits | "
          "class agreement | spike agreement lif1 / lif2 | float with the rounded weights: "
          "class agreement | integer = rounded float, spikes |")
    print("|---|---|---|---|---|---|---|---|")
    networks = {name: (bits, quantize_model(model, bits, reset="zero")[0])
                for name, bits in widths.items()}
    # The graph on Loihi's neuron (`snngen import --compat loihi`): 8-bit even weights, one
    # threshold, the current's bias moved to the membrane, no bias delay.
    networks["loihi"] = ([9, 9], import_nir_compat(BRAILLE, "loihi")[0])
    # And on Xylo's (`snngen import --compat xylo`): 8-bit weights with a shift per matrix,
    # power-of-two decays, per-event saturation of a 16-bit current, up to 31 spikes a step.
    networks["xylo"] = ([8, 8], import_nir_compat(BRAILLE, "xylo")[0])
    for name, (bits, network) in networks.items():
        started = time.perf_counter()
        result = agreement(model, network, inputs, floats)
        result.update(width=name, bits=bits,
                      memory_bits=(None if name in ("loihi", "xylo")
                                   else weight_memory_bits(model, bits)),
                      state_bits=network.state.bits,
                      current_bits=network.dynamics.current.state.bits,
                      golden_seconds=time.perf_counter() - started)
        rows.append(result)
        spikes = " / ".join(f"{v:.4f}" for v in result["spike_agreement"].values())
        print(f"| {name} | {bits} | {result['memory_bits']} | {result['state_bits']} / "
              f"{result['current_bits']} | {result['class_agreement']:.3f} | {spikes} | "
              f"{result['rounded_float_class_agreement']:.3f} | "
              f"{result['integer_vs_rounded_float_spikes']:.4f} |")
    print(f"\n{args.samples} trains × {args.steps} steps; float model {float_seconds:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "samples": args.samples,
                                               "steps": args.steps}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
