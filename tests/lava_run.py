"""Run a Loihi network in Lava's own bit-accurate processes (lava-nc 0.10; needs Python 3.10).

Standalone (it runs in Lava's virtual environment, without snngen): reads the JSON request named
on the command line and writes spikes, v and u of every step beside it (REQUEST.out).
A RingBuffer source feeds an input Dense, a recurrent Dense closes the loop, monitors read
v, u and s_out after every step; ``select_tag="fixed_pt"`` picks PyLifModelBitAcc and
PyDenseModelBitAcc. Lava delivers a Dense's input one step late, so the source sends the
network's x(t + 1) at step t − 1: data column j is x(j + 2).
"""

import json
import sys

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor


def bias_parts(bias):
    """bias = mant << exp with Lava's 13-bit mantissa and 3-bit exponent."""
    mant, exp = np.array(bias, dtype=np.int64), np.zeros(len(bias), dtype=np.int64)
    while (np.abs(mant) > 4095).any():
        wide = np.abs(mant) > 4095
        if (mant[wide] % 2).any():
            raise SystemExit("bias not representable as mant << exp")
        mant[wide] //= 2
        exp[wide] += 1
    return mant, exp


def main(path):
    with open(path) as file:
        request = json.load(file)
    weights = np.array(request["weights"])
    input_weights = np.array(request["input_weights"])
    inputs = np.array(request["inputs"]).T  # (K, T)
    n, k = input_weights.shape
    steps = inputs.shape[1]
    data = np.zeros((k, steps), dtype=int)
    data[:, :steps - 1] = inputs[:, 1:]
    mant, exp = bias_parts(request["bias"])
    # Lava declares du and dv as one value per process; its bit-accurate model computes with
    # them elementwise, so per-neuron decays are given as arrays over the neurons.
    du, dv = (np.array(request[key]) if isinstance(request[key], list) else request[key]
              for key in ("du", "dv"))
    lif = LIF(shape=(n,), du=du, dv=dv, vth=request["vth"], bias_mant=mant, bias_exp=exp)
    source = RingBuffer(data=data)
    dense_in = Dense(weights=input_weights, weight_exp=request["input_weight_exp"])
    dense_rec = Dense(weights=weights, weight_exp=request["weight_exp"])
    source.s_out.connect(dense_in.s_in)
    dense_in.a_out.connect(lif.a_in)
    lif.s_out.connect(dense_rec.s_in)
    dense_rec.a_out.connect(lif.a_in)
    monitors = {name: Monitor() for name in ("v", "u", "s_out")}
    monitors["v"].probe(lif.v, steps)
    monitors["u"].probe(lif.u, steps)
    monitors["s_out"].probe(lif.s_out, steps)
    lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    out = {name: monitor.get_data()[lif.name][name].astype(np.int64).reshape(steps, n).tolist()
           for name, monitor in monitors.items()}
    lif.stop()
    with open(path + ".out", "w") as file:
        json.dump({"state": out["v"], "current": out["u"], "spikes": out["s_out"]}, file)


if __name__ == "__main__":
    main(sys.argv[1])
