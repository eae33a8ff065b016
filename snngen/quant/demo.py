"""``snngen demo digits``: from a trained float SNN to bit-exact hardware on a real data set.

scikit-learn's 8×8 digits (1,797 images) with a fixed split; an snnTorch network is trained,
exported to NIR, imported, quantized at 16, 8, 4 bits and at Hessian-guided mixed precision,
measured with the integer golden model, checked bit-exact in RTL, synthesized, and reported
(docs/quantization.md explains every step and figure).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from .._figures import figure_style
from .._files import atomic_save_figure, atomic_write_bytes, atomic_write_text, npz_bytes
from .._progress import Progress, Stages
from .._workers import Interrupted, run_in_pool
from ..errors import InputError
from ..hw.plan import plan_hardware
from ..model.golden import simulate
from ..model.network import network_from_json, network_to_json, save_network
from .energy import ENERGY_MODEL, inference_metrics
from .nir_import import nir_to_float
from .quantize import (
    allocate_bits,
    parse_budget,
    predict,
    run_inference,
    threshold_ranges,
    weight_memory_bits,
)

__all__ = ["DemoOptions", "run_digits_demo", "wilson_interval"]

PRECISIONS = ("16", "8", "4", "auto")


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """Everything the digits demo can vary (the defaults make the documented report).

    Members
    -------
    hidden : int
        Hidden LIF neurons (64 → hidden → 10).
    steps : int
        T: stimulus steps per image (deterministic rate code, 0..16 → 0..T spikes).
    epochs, qat_epochs : int
        Float training epochs; quantization-aware fine-tuning epochs per candidate.
    budget : str
        ``auto``'s weight-memory budget (``42%`` of the uniform 8-bit network, or bits).
    probes : int
        Hutchinson probes per Hessian-trace estimate.
    rtl_images : int
        Test images pushed through the RTL (back to back) per precision.
    simulator : str
        ``icarus`` or ``verilator`` for the RTL check.
    target : str or None
        Synthesis target; None skips synthesis (LUT/BRAM/Fmax then null).
    granularity : str
        ``neuron`` (a threshold per neuron) or ``layer`` (one per layer).
    seed : int
        The split's and the training's seed.
    repeats : int
        Runs of the accuracy comparison, seeds ``seed .. seed + repeats − 1`` (training, split,
        quantization; the RTL check and synthesis run for the first seed only).
    """

    hidden: int = 64
    steps: int = 16
    epochs: int = 40
    qat_epochs: int = 20
    budget: str = "42%"
    probes: int = 32
    rtl_images: int = 4
    simulator: str = "icarus"
    target: str | None = "ice40-up5k"
    granularity: str = "neuron"
    seed: int = 0
    repeats: int = 5


def _load_digits(seed: int):
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise InputError("the digits demo needs scikit-learn: pip install torch==2.13.0 && "
                         "pip install 'snngen[train]'") from None
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=seed, stratify=digits.target)
    x_fit, x_val, y_fit, y_val = train_test_split(
        x_train, y_train, test_size=0.2, random_state=seed, stratify=y_train)
    return (x_fit, y_fit), (x_val, y_val), (x_test, y_test)


def _encoded_digits(options: DemoOptions, seed: int) -> dict:
    """The fit, validation and test splits of `seed`, rate-coded over ``options.steps`` steps."""
    from .train import encode_intensity

    fit, validation, test = _load_digits(seed)
    return {name: (encode_intensity(x, options.steps, 16.0), y)
            for name, (x, y) in (("fit", fit), ("validation", validation), ("test", test))}


#: snn.Leaky's decay: the shift leak is exact when beta = 1 − 2^−k, k = 3 here (tau = 8 dt).
BETA = 1 - 2.0 ** -3


def _export_and_import(net, path: Path, torch, nir, export_to_nir):
    """The trained network through snnTorch's NIR export and back in as a float model."""
    with warnings.catch_warnings():
        # snnTorch's exporter uses a nirtorch entry point that nirtorch 2 deprecates.
        warnings.filterwarnings("ignore", "nirtorch.extract_nir_graph", DeprecationWarning)
        graph = export_to_nir(net, torch.zeros(64))
    # The exporter lists edges in set order, which changes with Python's hash seed: sorted, the
    # same command writes the same model.nir.
    graph.edges = sorted(graph.edges)
    nir.write(str(path), graph)
    return nir_to_float(path, dt=1e-4)


def _precision_choices(model, encoded: dict, options: DemoOptions, seed: int) -> tuple:
    """The bits per layer of every precision (auto from Hessian traces), the traces, the
    budget and the allocation's objective."""
    from .train import hutchinson_traces

    x_fit, y_fit = encoded["fit"]
    traces = hutchinson_traces(model, x_fit[:512], y_fit[:512], probes=options.probes,
                               seed=seed)
    budget = parse_budget(options.budget, model)
    auto_bits, omega = allocate_bits(model, traces, budget, granularity=options.granularity)
    layer_count = len(model.layers)
    choices = {"16": [16] * layer_count, "8": [8] * layer_count, "4": [4] * layer_count,
               "auto": auto_bits}
    return choices, traces, budget, omega


def _repeat(options: DemoOptions, seed: int, folder: Path, torch, nir, export_to_nir) -> dict:
    """One more run of the accuracy comparison with another seed of the split and the training:
    the float network's and every precision's test accuracy (no RTL, no synthesis)."""
    from .train import quantize_for_accuracy

    encoded = _encoded_digits(options, seed)
    seeded = dataclasses.replace(options, seed=seed)
    net, float_accuracy = _train_snntorch(encoded["fit"], encoded["test"], seeded, BETA,
                                          lambda note: None)
    model = _export_and_import(net, folder / f"model_seed{seed}.nir", torch, nir, export_to_nir)
    readout = model.layer_rows(len(model.layers) - 1)
    choices, *_ = _precision_choices(model, encoded, options, seed)
    x_test, y_test = encoded["test"]
    accuracy = {}
    for precision in PRECISIONS:
        best, _ = quantize_for_accuracy(model, choices[precision], encoded["fit"],
                                        encoded["validation"], qat_epochs=options.qat_epochs,
                                        seed=seed, granularity=options.granularity)
        _, spikes = run_inference(best.network, x_test)
        accuracy[precision] = float((predict(spikes, readout) == y_test).mean())
    return {"seed": seed, "float": float_accuracy, "accuracy": accuracy}


def repeat_statistics(runs: list[dict]) -> dict:
    """Mean and spread over the repeats, and which precisions differ beyond the seeds' spread
    (a paired two-sided t-test at 5 % on the per-seed differences)."""
    from scipy import stats

    def spread(values: list[float]) -> dict:
        array = 100 * np.asarray(values)
        return {"mean": round(float(array.mean()), 2),
                "std": round(float(array.std(ddof=1)), 2) if len(array) > 1 else None,
                "min": round(float(array.min()), 2), "max": round(float(array.max()), 2)}

    names = ["float", *PRECISIONS]
    per_run = {name: [r["float"] if name == "float" else r["accuracy"][name] for r in runs]
               for name in names}
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            differences = 100 * (np.asarray(per_run[a]) - np.asarray(per_run[b]))
            significant = None
            if len(runs) > 1 and differences.std(ddof=1) > 0:
                p_value = float(stats.ttest_1samp(differences, 0.0).pvalue)
                significant = p_value < 0.05
            elif len(runs) > 1:
                significant = bool(differences.any())
            pairs.append({"a": a, "b": b, "mean_difference_points": round(
                float(differences.mean()), 2), "significant": significant})
    return {"seeds": [r["seed"] for r in runs],
            "accuracy": {name: spread(values) for name, values in per_run.items()},
            "pairs": pairs}


def _train_snntorch(fit, test, options: DemoOptions, beta: float, say, checkpoints=None):
    """Train 64 → hidden → 10 snn.Leaky (subtractive reset) with BPTT; returns (net, accuracy).

    With `checkpoints`, the network, the optimizer and the shuffling generator are kept after
    every epoch, and training continues from the last kept epoch (the same weights as one
    uninterrupted run).
    """
    import snntorch
    import snntorch.utils
    import torch

    torch.manual_seed(options.seed)
    hidden = options.hidden

    def leaky(size, output=False):
        # Per-neuron beta and threshold vectors: snnTorch's NIR export needs them shaped. The
        # reset in the spike's own step (reset_delay=False), as the integer semantics do it.
        return snntorch.Leaky(beta=torch.full((size,), beta), threshold=torch.ones(size),
                              init_hidden=True, output=output, reset_mechanism="subtract",
                              reset_delay=False)

    net = torch.nn.Sequential(torch.nn.Linear(64, hidden), leaky(hidden),
                              torch.nn.Linear(hidden, 10), leaky(10, output=True))

    def counts(x):
        snntorch.utils.reset(net)
        total = 0
        for t in range(x.shape[1]):
            spikes, _ = net(x[:, t])
            total = total + spikes
        return total

    x_fit = torch.tensor(fit[0], dtype=torch.float32)
    y_fit = torch.tensor(fit[1], dtype=torch.long)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(options.seed)
    first_epoch = 0
    kept = checkpoints.load_torch("train.pt") if checkpoints is not None else None
    if kept is not None:
        net.load_state_dict(kept["net"])
        optimizer.load_state_dict(kept["optimizer"])
        generator.set_state(kept["generator"])
        first_epoch = kept["epoch"]
    for epoch in range(first_epoch, options.epochs):
        order = torch.randperm(len(x_fit), generator=generator)
        for start in range(0, len(order), 64):
            chosen = order[start:start + 64]
            loss = torch.nn.functional.cross_entropy(counts(x_fit[chosen]), y_fit[chosen])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if checkpoints is not None:
            checkpoints.save_torch("train.pt", {
                "epoch": epoch + 1, "net": net.state_dict(), "optimizer": optimizer.state_dict(),
                "generator": generator.get_state()})
        say(f"train epoch {epoch + 1}/{options.epochs}")
    with torch.no_grad():
        predicted = counts(torch.tensor(test[0], dtype=torch.float32)).argmax(dim=1).numpy()
    return net, float((predicted == test[1]).mean())


class _Checkpoints:
    """The finished units of a demo (training epochs, and per precision its quantization,
    synthesis and RTL check), kept in DIR/.checkpoint so that Ctrl-C loses at most the unit
    running and the same command resumes. Checkpoints of other options are discarded."""

    def __init__(self, out: Path, options: DemoOptions) -> None:
        import shutil

        from .. import __version__

        self.folder = out / ".checkpoint"
        key = json.dumps({"options": dataclasses.asdict(options), "snngen": __version__},
                         sort_keys=True)
        if self.folder.is_dir() and self._read("key.json") != key:
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.partial"):   # a kill while writing
            stale.unlink()
        atomic_write_text(self.folder / "key.json", key)
        self.kept: dict[str, int] = {}   # units kept per file: epochs, or 1
        self.loaded = 0   # units this run found kept by an earlier one

    @property
    def units(self) -> int:
        """The units of work kept: training epochs, and one per precision and stage."""
        return sum(self.kept.values())

    def _read(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text()
        except OSError:
            return None

    def load_json(self, name: str):
        text = self._read(name)
        if text is None:
            return None
        self.kept[name] = 1
        self.loaded += 1
        return json.loads(text)

    def save_json(self, name: str, value) -> None:
        atomic_write_text(self.folder / name, json.dumps(value, sort_keys=True))
        self.kept[name] = 1

    def load_torch(self, name: str):
        import io

        import torch

        path = self.folder / name
        if not path.exists():
            return None
        kept = torch.load(io.BytesIO(path.read_bytes()), weights_only=False)
        self.kept[name] = kept["epoch"]
        self.loaded += kept["epoch"]
        return kept

    def save_torch(self, name: str, value: dict) -> None:
        import io

        import torch

        buffer = io.BytesIO()
        torch.save(value, buffer)
        atomic_write_bytes(self.folder / name, buffer.getvalue())
        self.kept[name] = value["epoch"]


def _synthesize_one(args):
    """Synthesize one precision: synapse tables as ROM in block RAM, or, when they do not fit
    and the device has SPRAM (iCE40 UP5K), as runtime-loaded weights in SPRAM. When the constant
    tables alone need more block RAMs than the device has (:func:`rom_block_rams`), the ROM
    synthesis is not tried: it could only fail, and it is the slowest run of the demo."""
    from ..hw.plan import plan_hardware
    from ..model.network import network_from_json
    from ..synth.flow import TARGETS, SynthesisError, rom_block_rams, synthesize

    # The network crosses the process boundary as its network.json text (a Network's read-only
    # mappings do not pickle).
    text, target, _precision = args
    network = network_from_json(json.loads(text))
    spec = TARGETS[target]
    has_spram = bool(spec.resources.get("spram"))
    rom_skipped = None
    needed = rom_block_rams(plan_hardware(network, None)) if spec.family == "ice40" else 0
    if needed > spec.resources["bram"] and has_spram:
        rom_skipped = (f"the constant tables need at least {needed} block RAMs as ROM, the "
                       f"{target} has {spec.resources['bram']}")
    else:
        try:
            report = synthesize(network, target, groups=None)
        except SynthesisError as error:
            if "does not fit" not in str(error) or not has_spram:
                return {"error": str(error)}
            rom_skipped = "the ROM design did not fit"
    if rom_skipped is not None:
        try:
            report = synthesize(network, target, groups=None, runtime_weights=True)
        except SynthesisError as error:
            return {"error": str(error)}
        report["rom_skipped"] = rom_skipped
    report.pop("raw", None)
    return report


def run_digits_demo(out_dir: str | os.PathLike, options: DemoOptions = DemoOptions(),
                    *, progress: Progress | None = None) -> dict:
    """Run the whole demo into `out_dir`; returns the report (also DIR/report.json).

    PyTorch runs single-threaded with deterministic algorithms meanwhile (the same command gives
    the same networks, and the synthesis runs get the cores); both settings are restored after.
    """
    from .train import require_torch

    torch = require_torch()
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        return _run_digits_demo(Path(out_dir), options, progress)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _run_digits_demo(out: Path, options: DemoOptions, progress: Progress | None) -> dict:
    from .train import require_torch

    torch = require_torch()
    try:
        import nir
        from snntorch.export_nir import export_to_nir
    except ImportError as error:
        raise InputError(f"the digits demo needs snnTorch, nirtorch and nir ({error.name} is "
                         "missing): pip install 'snngen[train]'") from None
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = _Checkpoints(out, options)
    total_units = options.epochs + len(PRECISIONS) * (2 + (options.target is not None)) \
        + options.repeats - 1
    try:
        return _digits_stages(out, options, progress, checkpoints, started, torch, nir,
                              export_to_nir)
    except KeyboardInterrupt:
        raise Interrupted(checkpoints.units, total_units, "epochs and stages") from None


def _digits_stages(out: Path, options: DemoOptions, progress: Progress | None,
                   checkpoints: _Checkpoints, started: float, torch, nir, export_to_nir) -> dict:
    from ..verify.cosim import run_cocotb
    from .train import quantize_for_accuracy, unrounded_accuracy

    stages = Stages(7 + 4 * 5 + options.repeats - 1, progress)
    say = stages.say

    timings = {}

    def lap(name, since):
        timings[name] = round(time.perf_counter() - since, 2)
        return time.perf_counter()

    now = time.perf_counter()
    encoded = _encoded_digits(options, options.seed)
    stages.update()

    beta = BETA
    net, float_accuracy = _train_snntorch(encoded["fit"], encoded["test"], options, beta, say,
                                          checkpoints)
    now = lap("train", now)
    stages.update()

    model = _export_and_import(net, out / "model.nir", torch, nir, export_to_nir)
    readout = model.layer_rows(len(model.layers) - 1)
    # The imported model in float with the hardware's structure (a step per layer, the
    # semantics' reset), before any rounding: separates mapping effects from quantization.
    mapped_accuracy = unrounded_accuracy(model, *encoded["test"])
    stages.update()

    choices, traces, budget, omega = _precision_choices(model, encoded, options, options.seed)
    auto_bits = choices["auto"]
    now = lap("hessian_and_allocation", now)
    stages.update()

    x_test, y_test = encoded["test"]
    uniform8 = weight_memory_bits(model, choices["8"])
    results, networks = [], {}
    for precision in PRECISIONS:
        say(f"quantize {precision}")
        kept = checkpoints.load_json(f"quantize_{precision}.json")
        if kept is not None:
            networks[precision] = network_from_json(kept["network"])
            save_network(networks[precision], out / f"net_{precision}.json")
            results.append(kept["result"])
            stages.update(5)   # its candidates and itself, as a fresh run counts them
            continue
        best, candidates = quantize_for_accuracy(
            model, choices[precision], encoded["fit"], encoded["validation"],
            qat_epochs=options.qat_epochs, seed=options.seed, granularity=options.granularity,
            progress=stages.update)
        network = best.network
        networks[precision] = network
        save_network(network, out / f"net_{precision}.json")
        # One golden-model run of the test split gives the accuracy and the counted metrics.
        padded, spikes = run_inference(network, x_test)
        correct = int((predict(spikes, readout) == y_test).sum())
        accuracy = correct / len(y_test)
        plan = plan_hardware(network, None)
        metrics = inference_metrics(plan, padded, spikes)
        memory = weight_memory_bits(model, choices[precision])
        results.append({
            "precision": precision,
            "bits_per_layer": [int(b) for b in choices[precision]],
            "state_bits": network.state.bits,
            "granularity": options.granularity,
            "threshold_ranges": [list(r) for r in threshold_ranges(network)],
            "method": best.method,
            "validation_accuracy": best.validation_accuracy,
            "candidates": {c.method: c.validation_accuracy for c in candidates},
            "accuracy": accuracy,
            "accuracy_interval_95": [round(v, 4) for v in wilson_interval(correct, len(y_test))],
            # Signed: positive is a gain over the float model, negative a loss.
            "accuracy_change_points": round(100 * (accuracy - float_accuracy), 2),
            "weight_memory_bits": memory,
            "weight_memory_vs_8bit": round(memory / uniform8, 4),
            "stored_weight_bits": int(sum(
                g.synapse_count * plan.group_weight_width(g.index) for g in plan.group_plans)),
            "synapse_memory_bits": plan.memory_bits()["synapses"],
            "lut": None, "bram": None, "fmax_mhz": None, "logic_cells": None,
            "sops_per_inference": round(metrics["sops"], 1),
            "spikes_per_inference": round(metrics["spikes"], 2),
            "sops_per_spike": None if metrics["sops_per_spike"] is None
            else round(metrics["sops_per_spike"], 2),
            "energy_per_inference_nj": round(metrics["energy_pj"]["total"] / 1000, 3),
            "energy_per_spike_pj": None if metrics["energy_per_spike_pj"] is None
            else round(metrics["energy_per_spike_pj"], 1),
            "energy_per_sop_pj": None if metrics["energy_per_sop_pj"] is None
            else round(metrics["energy_per_sop_pj"], 3),
            "energy_parts_nj": {k: round(v / 1000, 3) for k, v in metrics["energy_pj"].items()},
            "rtl_bit_exact": None,
        })
        checkpoints.save_json(f"quantize_{precision}.json",
                              {"network": network_to_json(network), "result": results[-1]})
        stages.update()
    now = lap("quantize_and_measure", now)

    if options.target is not None:
        say("synthesis")

        def take(result: dict, report: dict) -> None:
            if "error" in report:
                result["synthesis_error"] = report["error"]
                return
            result.update(lut=report["lut"], bram=report["bram"], fmax_mhz=report["fmax_mhz"],
                          logic_cells=report["logic_cells"], ff=report["ff"],
                          spram=report["spram"], runtime_weights=report["runtime_weights"],
                          bank_depth=report.get("bank_depth", 0))
            if "rom_skipped" in report:
                result["rom_skipped"] = report["rom_skipped"]

        todo = []
        for result in results:
            kept = checkpoints.load_json(f"synth_{result['precision']}.json")
            if kept is not None:
                take(result, kept)
            else:
                todo.append((network_to_json(networks[result["precision"]]), options.target,
                             result["precision"]))

        def finished(task, report: dict) -> None:
            precision = task[2]
            checkpoints.save_json(f"synth_{precision}.json", report)
            take(next(r for r in results if r["precision"] == precision), report)

        run_in_pool(_synthesize_one, todo, 2, finished)
        now = lap("synthesis", now)

    # RTL: the first test images back to back (no reset between them), bit-exact every step;
    # each image with the no-input steps the layers need to answer, as in the accuracy runs.
    images = min(options.rtl_images, len(x_test))
    padded, _ = run_inference(networks[PRECISIONS[0]], x_test[:images])
    stimulus = padded.reshape(-1, padded.shape[2])
    rtl_fields = ("rtl_bit_exact", "rtl_images", "rtl_cycles_per_inference", "latency_us",
                  "inferences_per_second", "giga_sops_per_watt")
    for result in results:
        network = networks[result["precision"]]
        say(f"RTL {result['precision']}")
        kept = checkpoints.load_json(f"rtl_{result['precision']}.json")
        if kept is not None:
            result.update(kept)
            stages.update()
            continue
        expected = simulate(network, len(stimulus), stimulus)
        # The design that was synthesized: with runtime weights the testbench loads them first.
        run = run_cocotb(network, len(stimulus), stimulus, simulator=options.simulator,
                         build_dir=out / "rtl" / f"{result['precision']}", groups=None,
                         runtime_weights=result.get("runtime_weights", False),
                         bank_depth=result.get("bank_depth", 0))
        got = run.run
        result["rtl_bit_exact"] = bool(run.failed == 0
                                       and np.array_equal(got.spikes, expected.spikes)
                                       and np.array_equal(got.state, expected.state))
        result["rtl_images"] = images
        result["rtl_cycles_per_inference"] = round(float(got.cycles.sum()) / images, 1)
        if result["fmax_mhz"]:
            seconds = result["rtl_cycles_per_inference"] / (result["fmax_mhz"] * 1e6)
            result["latency_us"] = round(seconds * 1e6, 2)
            result["inferences_per_second"] = round(1 / seconds, 1)
            # Throughput per watt = SOPs per joule (the dynamic-energy estimate).
            result["giga_sops_per_watt"] = round(
                result["sops_per_inference"] / (result["energy_per_inference_nj"] * 1e-9) / 1e9,
                1)
        checkpoints.save_json(f"rtl_{result['precision']}.json",
                              {k: result[k] for k in rtl_fields if k in result})
        stages.update()
    now = lap("rtl", now)

    # The accuracy comparison again with other seeds of the split and the training: one test set
    # of 450 images cannot rank precisions a few images apart.
    runs = [{"seed": options.seed, "float": float_accuracy,
             "accuracy": {r["precision"]: r["accuracy"] for r in results}}]
    for seed in range(options.seed + 1, options.seed + options.repeats):
        say(f"repeat, seed {seed}")
        kept = checkpoints.load_json(f"repeat_{seed}.json")
        if kept is None:
            kept = _repeat(options, seed, checkpoints.folder, torch, nir, export_to_nir)
            checkpoints.save_json(f"repeat_{seed}.json", kept)
        runs.append(kept)
        stages.update()
    repeats = repeat_statistics(runs)
    if options.repeats > 1:
        now = lap("repeats", now)

    stages.finish()

    timings["total"] = round(time.perf_counter() - started, 1)
    by_precision = {r["precision"]: r for r in results}
    targets = {
        "float accuracy >= 95%": float_accuracy >= 0.95,
        "8-bit drop <= 0.5 pt": by_precision["8"]["accuracy"] >= float_accuracy - 0.005,
        "auto weight memory <= 42% of 8-bit": by_precision["auto"]["weight_memory_vs_8bit"]
        <= 0.42,
        "auto drop <= 0.5 pt": by_precision["auto"]["accuracy"] >= float_accuracy - 0.005,
        "demo <= 5 min": timings["total"] <= 300,
        "every precision bit-exact in RTL": all(r["rtl_bit_exact"] for r in results),
    }
    report = {
        "float_accuracy": float_accuracy,
        "targets": targets,
        "imported_float_accuracy": mapped_accuracy,
        "results": results,
        "data": {"set": "sklearn.datasets.load_digits", "train": len(encoded["fit"][1]),
                 "validation": len(encoded["validation"][1]), "test": len(encoded["test"][1]),
                 "split": f"train_test_split(test_size=0.25, stratify, random_state="
                          f"{options.seed}); validation 20% of train",
                 "encoding": f"deterministic rate code, {options.steps} steps, intensity 0..16"},
        "model": {"layers": [{"name": layer["name"], "neurons": layer["last"] - layer["first"] + 1,
                              "weights": model.layer_weight_count(i)}
                             for i, layer in enumerate(model.layers)],
                  "leak_shift": model.leak_shift, "beta": beta, "reset": "subtract"},
        "hessian": {"method": f"Hutchinson, {options.probes} Rademacher probes, 512 training "
                              "images", "traces": traces,
                    "mean_eigenvalue": [t / max(model.layer_weight_count(i), 1)
                                        for i, t in enumerate(traces)],
                    "budget_bits": budget, "budget": options.budget, "auto_bits": auto_bits,
                    "objective": omega},
        "energy_model": ENERGY_MODEL,
        "measured": ["accuracy", "weight_memory_bits", "lut", "bram", "fmax_mhz",
                     "sops_per_inference", "spikes_per_inference", "rtl_cycles_per_inference",
                     "rtl_bit_exact"],
        "estimated": ["energy_per_inference_nj", "energy_per_spike_pj", "energy_per_sop_pj",
                      "giga_sops_per_watt"],
        "options": dataclasses.asdict(options),
        "seconds": timings,
        "resumed_units": checkpoints.loaded,
        "repeats": repeats,
    }
    atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(out / "report.md", report_markdown(report))
    _plot(report, out / "accuracy_vs_memory.png")
    # The encoded test split, for `snngen quantize --data` and for re-running anything here.
    atomic_write_bytes(out / "test_data.npz", npz_bytes({"inputs": x_test, "labels": y_test}))
    return report


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95 % for the default z)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * ((p * (1 - p) / trials + z * z / (4 * trials * trials)) ** 0.5) / (1 + z * z / trials)
    # At p = 0 or 1 the bound is exactly 0 or 1 (the sum above rounds to 1 − 1e-16).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def _distinguishable(results: list[dict]) -> str:
    """Which pairs of precisions have disjoint intervals (the ones this test set separates)."""
    pairs = []
    for i, a in enumerate(results):
        for b in results[i + 1:]:
            (a_lo, a_hi), (b_lo, b_hi) = a["accuracy_interval_95"], b["accuracy_interval_95"]
            if a_hi < b_lo or b_hi < a_lo:
                pairs.append(f"{a['precision']} vs {b['precision']}")
    return ("only " + ", ".join(pairs) + " differ") if pairs else "none of them differ"


def _repeats_markdown(repeats: dict) -> list[str]:
    """The accuracy over the seeds: mean ± standard deviation [min, max], and what differs."""
    seeds = repeats["seeds"]
    if len(seeds) < 2:
        return ["One seed only (--repeats 1): no spread over seeds.", ""]
    lines = [f"Over {len(seeds)} seeds of the split and the training ({seeds[0]}..{seeds[-1]}; "
             "test accuracy in %, mean ± standard deviation [min, max]):", "",
             "| | " + " | ".join(repeats["accuracy"]) + " |",
             "|---|" + "---|" * len(repeats["accuracy"]),
             "| accuracy | " + " | ".join(
                 f"{a['mean']:.2f} ± {a['std']:.2f} [{a['min']:.2f}, {a['max']:.2f}]"
                 for a in repeats["accuracy"].values()) + " |", ""]
    different = [f"{p['a']} vs {p['b']} ({p['mean_difference_points']:+.2f} pt)"
                 for p in repeats["pairs"] if p["significant"]]
    lines += ["Paired t-test over the seeds at 5 %: "
              + ("; ".join(different) + " differ" if different else
                 "no two of float, 16, 8, 4 and auto differ")
              + "; every other difference is within the spread of the seeds.", ""]
    return lines


def report_markdown(report: dict) -> str:
    """The report as a markdown table (what docs/quantization.md shows)."""
    lines = [
        "# snngen digits demo",
        "",
        f"Float (snnTorch) test accuracy: **{100 * report['float_accuracy']:.2f}%** "
        f"({report['data']['test']} test images); the imported model in float with the "
        f"hardware's structure (a step per layer, before rounding): "
        f"{100 * report['imported_float_accuracy']:.2f}%.",
        "",
        "| precision | bits/layer | state bits | method | accuracy [95 % interval] | change vs "
        "float (pt) | weight memory (bits) | vs 8-bit | LUT | BRAM | Fmax MHz | SOPs/inf | "
        "SOPs/spike | energy/inf nJ* | RTL bit-exact |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        spram = f" + {r['spram']} SPRAM" if r.get("spram") else ""

        def show(value, fmt="{}"):
            return "–" if value is None else fmt.format(value)
        lines.append(
            f"| {r['precision']} | {','.join(map(str, r['bits_per_layer']))} | "
            f"{r['state_bits']} | {r['method']} | {100 * r['accuracy']:.2f}% "
            f"[{100 * r['accuracy_interval_95'][0]:.1f}, "
            f"{100 * r['accuracy_interval_95'][1]:.1f}] | "
            f"{r['accuracy_change_points']:+.2f} | {r['weight_memory_bits']} | "
            f"{100 * r['weight_memory_vs_8bit']:.1f}% | {show(r['lut'])} | {show(r['bram'])}"
            f"{spram} | "
            f"{show(r['fmax_mhz'], '{:.1f}')} | {r['sops_per_inference']:.0f} | "
            f"{show(r['sops_per_spike'])} | {r['energy_per_inference_nj']:.2f} | "
            f"{'yes' if r['rtl_bit_exact'] else 'NO'} |")
    h = report["hessian"]
    test = report["data"]["test"]
    for r in report["results"]:
        if r.get("rom_skipped"):
            lines += ["", f"{r['precision']}: synapse tables loaded at run time into SPRAM, not "
                      f"ROM ({r['rom_skipped']})."]
    lines += [
        "",
        f"Intervals: 95 % Wilson score intervals over the {test} test images (one image is "
        f"{100 / test:.2f} pt). Precisions whose intervals overlap are not told apart by this "
        "test set: "
        + _distinguishable(report["results"]) + ".",
        "",
        f"Auto: Hessian traces {', '.join(f'{t:.3g}' for t in h['traces'])} "
        f"(per weight {', '.join(f'{t:.3g}' for t in h['mean_eigenvalue'])}); budget "
        f"{h['budget']} = {h['budget_bits']} bits → bits {h['auto_bits']}.",
        "",
        *_repeats_markdown(report["repeats"]),
        "Targets: " + "; ".join(
            f"{name}: {'met' if ok else 'MISSED'}" for name, ok in report["targets"].items())
        + ".",
        "",
        f"\\* estimate: {report['energy_model']['source']}; "
        f"{report['energy_model']['scope']}.",
        "",
    ]
    return "\n".join(lines)


def _plot(report: dict, path: Path) -> None:
    with figure_style() as plt:
        _draw(plt, report, path)


def _draw(plt, report: dict, path: Path) -> None:
    figure, ax = plt.subplots(figsize=(6, 4))
    memories = sorted(r["weight_memory_bits"] for r in report["results"])
    for r in report["results"]:
        low, high = (100 * v for v in r.get("accuracy_interval_95", (r["accuracy"],) * 2))
        memory = r["weight_memory_bits"]
        ax.errorbar(memory / 1000, 100 * r["accuracy"],
                    yerr=[[100 * r["accuracy"] - low], [high - 100 * r["accuracy"]]], fmt="o",
                    ms=6, capsize=3)
        # A label goes left of its point when the next point is close on its right.
        above = [m for m in memories if m > memory]
        crowded = bool(above) and above[0] < 1.5 * memory
        ax.annotate(f"{r['precision']} ({','.join(map(str, r['bits_per_layer']))})",
                    (memory / 1000, 100 * r["accuracy"]), textcoords="offset points",
                    xytext=(-6, -12) if crowded else (6, -12),
                    ha="right" if crowded else "left", fontsize=8)
    ax.axhline(100 * report["float_accuracy"], color="grey", ls="--", lw=0.8, label="float")
    ax.axhline(100 * report["float_accuracy"] - 0.5, color="red", ls=":", lw=0.8,
               label="float − 0.5 pt")
    ax.set_xscale("log")
    # Room for the labels beside the outermost points.
    ax.set_xlim(memories[0] / 1000 / 1.4, memories[-1] / 1000 * 1.4)
    # Plain numbers on the log axis (10, 20, 30, 50, 70), not "2×10¹".
    from matplotlib.ticker import FuncFormatter, LogLocator

    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0, 7.0)))
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    ax.set_xlabel("weight memory (kbit, log)")
    ax.set_ylabel("test accuracy (%, 95 % Wilson interval)")
    ax.set_title("digits: accuracy vs weight memory (integer golden model)")
    ax.legend(loc="lower right", fontsize=8)
    atomic_save_figure(figure, path)
    plt.close(figure)
