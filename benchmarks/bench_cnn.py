"""The NIR paper's N-MNIST CNN (../shared/nir/cnn_sinabs.nir) as an integer network: agreement with
its float reference on synthetic event streams.

    python benchmarks/bench_cnn.py [--streams 300] [--steps 50] [--events 2000] [--json OUT.json]

The N-MNIST data set is not available here, so the measure is agreement with the float model of the
same graph on synthetic streams (random events, moving bars, moving dots; snngen.quant.streams),
each of `--events` events in `--steps` steps:

- the float reference is snngen.quant.nir_conv.float_reference (PyTorch's conv2d and pooling). It
  is first checked spike for spike against Sinabs' own simulator of the NIR file (sinabs.from_nir)
  with Sinabs' single-spike IAF without a membrane floor, under both resets: the judge of the
  reference is the peer's simulator;
- each integer network runs in the golden model: `snngen import --bits 8` (8-bit state and
  weights, one scale, NIR's reset to v_reset) and `snngen quantize --bits B` at 8, 10 and 12-bit
  weights (a scale per layer, the state width from calibration) for NIR's reset ("zero"), Sinabs'
  subtractive reset, and Sinabs' several spikes a step (capped at 15); and with a scale per
  output channel (`--granularity channel`) with the subtractive reset;
- output-class agreement: the readout neuron with the most spikes (lowest index on ties), integer
  against float of the same options; also on the decisive streams only, where the float model's
  top class leads by at least two spikes; per-layer spike agreement: Σ min / Σ max of the
  (step, neuron) spike counts, the float model delayed one step per layer as the integer one is;
- the graph's own sensitivity: the float model against itself with every weight off by a relative
  ±0.1 %, the agreement no quantization can beat;
- Sinabs' default IAF (several spikes a step and a membrane floor at −θ) for comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from peers import run_sinabs

from snngen.model.golden import Stepper
from snngen.quant.nir_conv import float_reference, quantize_structured, structured_from_nir
from snngen.quant.nir_import import import_nir
from snngen.quant.streams import synthetic_streams

GRAPH = Path(__file__).resolve().parent.parent.parent / "shared" / "nir" / "cnn_sinabs.nir"
MULTI = 15  # the spike cap of the multi-spike configurations (4-bit spike counts)
UNCAPPED = 1 << 30  # Sinabs' MultiSpike has no cap
DECISIVE_MARGIN = 2  # a stream is decisive when the float model's top class leads by this many
NUDGE = 1e-3  # the relative weight noise of the float model's own sensitivity


def sinabs_run(streams: np.ndarray, shape, *, single: bool, floor: bool, reset: str
               ) -> np.ndarray:
    """Sinabs' simulation of the NIR file, in its own environment (tests/peers.py): output
    spikes (samples, T, classes)."""
    with tempfile.TemporaryDirectory() as work:
        return run_sinabs(GRAPH, streams, shape, single=single, floor=floor, reset=reset,
                          work=Path(work))


def predict(counts: np.ndarray) -> np.ndarray:
    return np.argmax(counts, axis=-1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=300, help="synthetic streams (300)")
    parser.add_argument("--steps", type=int, default=50, help="steps per stream (50)")
    parser.add_argument("--events", type=int, default=2000, help="events per stream (2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the streams (0)")
    parser.add_argument("--granularity", choices=["layer", "channel", "both"], default="both",
                        help="the integer networks: one threshold per layer, per output "
                             "channel, or both sets (both)")
    parser.add_argument("--json", metavar="OUT.json", help="write the figures here")
    args = parser.parse_args(argv)
    from tqdm import tqdm

    model = structured_from_nir(GRAPH)
    depth = max(model.depth.values())
    streams, kinds = synthetic_streams(args.streams, args.steps, model.input_shape,
                                       events=args.events, seed=args.seed)
    extra = depth - 1
    padded = np.concatenate([streams, np.zeros((len(streams), extra, streams.shape[2]),
                                               np.uint8)], axis=1)
    results = {"streams": args.streams, "steps": args.steps, "events": args.events,
               "kinds": {k: kinds.count(k) for k in sorted(set(kinds))}, "configs": []}

    # The judge of the float reference: Sinabs' own simulator, spike for spike.
    judged = {}
    for reset, spikes_per_step in (("zero", 1), ("subtract", 1), ("subtract", UNCAPPED)):
        same_step = float_reference(model, streams, reset=reset, delayed=False,
                                    spikes_per_step=spikes_per_step)
        peer = sinabs_run(streams, model.input_shape, single=spikes_per_step == 1, floor=False,
                          reset=reset)
        last = model.layers[-1].name
        identical = int(sum(np.array_equal(peer[i].astype(np.uint8), same_step[last][i])
                            for i in range(len(streams))))
        key = f"{reset} reset, {'single spike' if spikes_per_step == 1 else 'MultiSpike'}"
        judged[key] = identical
        print(f"float reference = Sinabs ({key}, no floor): identical output spikes on "
              f"{identical}/{len(streams)} streams")
    results["float_equals_sinabs"] = judged
    sinabs_default = sinabs_run(streams, model.input_shape, single=False, floor=True,
                                reset="subtract")
    default_classes = predict(sinabs_default.sum(axis=1))

    networks = {}
    if args.granularity in ("layer", "both"):
        networks["import --bits 8 (8-bit state)"] = (import_nir(GRAPH, bits=8)[0], "zero", 1)
        for bits in (8, 10, 12):
            for reset, spikes_per_step in (("zero", 1), ("subtract", 1), ("subtract", MULTI)):
                multi = f" --spikes-per-step {MULTI}" if spikes_per_step > 1 else ""
                networks[f"quantize --bits {bits} --reset {reset}{multi}"] = (
                    quantize_structured(model, bits, reset=reset,
                                        spikes_per_step=spikes_per_step),
                    reset, spikes_per_step)
    if args.granularity in ("channel", "both"):
        for bits, spikes_per_step in ((8, 1), (8, MULTI), (10, 1), (12, 1)):
            multi = f" --spikes-per-step {MULTI}" if spikes_per_step > 1 else ""
            networks[f"quantize --bits {bits} --reset subtract{multi} --granularity channel"] = (
                quantize_structured(model, bits, reset="subtract",
                                    spikes_per_step=spikes_per_step, granularity="channel"),
                "subtract", spikes_per_step)
    readout = slice(model.neurons - model.layers[-1].size, model.neurons)
    spans, first = {}, 0
    for layer in model.layers:
        spans[layer.name] = slice(first, first + layer.size)
        first += layer.size
    references = {}
    for label, (network, reset, spikes_per_step) in networks.items():
        key = (reset, spikes_per_step)
        if key not in references:
            references[key] = float_reference(model, padded, reset=reset, delayed=True,
                                               spikes_per_step=spikes_per_step)
        reference = references[key]
        output = reference[model.layers[-1].name].sum(axis=1).astype(np.int64)
        float_classes = predict(output)
        ordered = np.sort(output, axis=1)
        decisive = ordered[:, -1] - ordered[:, -2] >= DECISIVE_MARGIN
        matched = dict.fromkeys(spans, 0)
        union = dict.fromkeys(spans, 0)
        classes = np.zeros(len(streams), dtype=np.int64)
        started = time.perf_counter()
        for index in tqdm(range(len(streams)), desc=label, leave=False):
            trace = Stepper(network).advance(padded[index])
            spikes = trace.spikes.astype(np.int64)
            classes[index] = predict(spikes[:, readout].sum(axis=0))
            for layer in model.layers:
                got = spikes[:, spans[layer.name]]
                want = reference[layer.name][index].reshape(len(got), -1).astype(np.int64)
                matched[layer.name] += int(np.minimum(got, want).sum())
                union[layer.name] += int(np.maximum(got, want).sum())
        seconds = time.perf_counter() - started
        agree = classes == float_classes
        config = {
            "network": label, "state_bits": network.state.bits,
            "weight_bits": network.weight_bits, "reset": reset,
            "spikes_per_step": spikes_per_step,
            "thresholds": network.extra["quantization"]["thresholds"]
            if "quantization" in network.extra
            else [network.layer_threshold(layer) for layer in network.layers],
            "class_agreement": float(agree.mean()),
            "decisive_streams": int(decisive.sum()),
            "class_agreement_decisive": float(agree[decisive].mean()),
            "class_agreement_by_kind": {k: float(agree[np.array(kinds) == k].mean())
                                        for k in sorted(set(kinds))},
            "class_agreement_sinabs_default": float((classes == default_classes).mean()),
            "layers": [{"layer": name,
                        "spike_agreement": matched[name] / union[name] if union[name] else 1.0}
                       for name in spans],
            "golden_seconds_per_stream": seconds / len(streams),
        }
        results["configs"].append(config)

    # The graph's own sensitivity: the float model against itself with every weight off by a
    # relative ±0.1 % (seeded), which no quantization can beat.
    rng = np.random.default_rng(args.seed)
    nudged = dataclasses.replace(model, projections=[
        dataclasses.replace(p, ops=(*p.ops[:-1], (p.ops[-1][0], p.ops[-1][1] * (
            1 + NUDGE * rng.uniform(-1, 1, p.ops[-1][1].shape)), *p.ops[-1][2:])))
        for p in model.projections])
    results["float_nudged_class_agreement"] = {}
    for (reset, spikes_per_step), reference in references.items():
        exact = predict(reference[model.layers[-1].name].sum(axis=1))
        moved = predict(float_reference(nudged, padded, reset=reset, delayed=True,
                                        spikes_per_step=spikes_per_step)[
            model.layers[-1].name].sum(axis=1))
        results["float_nudged_class_agreement"][f"{reset}, M={spikes_per_step}"] = float(
            (exact == moved).mean())
    results["float_vs_sinabs_default_class_agreement"] = float(
        (predict(references[("subtract", MULTI)][model.layers[-1].name].sum(axis=1))
         == default_classes).mean())

    print(f"\n{args.streams} streams ({', '.join(f'{v} {k}' for k, v in results['kinds'].items())}"
          f"), {args.events} events in {args.steps} steps each\n")
    width = max(len(config["network"]) for config in results["configs"])
    print(f"{'integer network':<{width}} {'state':>5} {'class':>6} {'decisive':>9} "
          + " ".join(f"{'L' + layer.name:>6}" for layer in model.layers))
    for config in results["configs"]:
        print(f"{config['network']:<{width}} {config['state_bits']:>5} "
              f"{100 * config['class_agreement']:>5.1f}% "
              f"{100 * config['class_agreement_decisive']:>8.1f}% "
              + " ".join(f"{100 * layer['spike_agreement']:>5.1f}%" for layer in config["layers"]))
    print("\nthe float model against itself with weights off by ±0.1 %: "
          + ", ".join(f"{k}: {100 * v:.1f}%"
                      for k, v in results["float_nudged_class_agreement"].items()))
    print(f"float reference (subtract, MultiSpike ≤ {MULTI}) vs Sinabs' default IAF (membrane "
          f"floor at −θ): {100 * results['float_vs_sinabs_default_class_agreement']:.1f}%")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
