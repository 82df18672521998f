"""Time in-silico saturation mutagenesis: every single substitution of a random protein.

    python benchmarks/ism.py                      # 1,000 aa: 19 x 1,000 = 19,000 mutants, 1 thread
    python benchmarks/ism.py --length 200 --members 3 --threads 2

The model is an untrained Lyra of the GB1 configuration (d_model 64, d_state 64: 47,169
parameters; the speed does not depend on the weights), wrapped as an ensemble of
``--members`` copies, scored through ``lyra.analysis.mutagenesis.saturation_mutagenesis`` (the
code path of ``lyra mutagenesis``: Lyra's single-substitution fast path,
``lyra.nn.substitutions.substitution_outputs``); ``--compare`` also times scoring every mutant
as a full sequence (chunked one-hot encoding, batched forward passes) in the same run.
Prints one JSON line: wall time, mutants/s, machine load. A benchmark, not a test:
nothing asserts on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from lyra.data.alphabets import get_alphabet
from lyra.analysis.ensemble import Ensemble
from lyra.models.estimators import build
from lyra.analysis.mutagenesis import mutant_effects, saturation_mutagenesis
from lyra.data.transforms import TargetScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=1000, help="protein length (default 1000)")
    parser.add_argument("--members", type=int, default=1, help="ensemble members (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--compare", action="store_true",
                        help="also score every mutant as a full sequence (the path without Lyra's fast one) and "
                             "report both times and their ratio")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    letters = get_alphabet("protein").letters
    reference = "".join(np.random.default_rng(0).choice(list(letters), args.length))
    scaler = TargetScaler.fit(np.array([0.0, 1.0]), "regression", None, False).to_dict()
    meta = {"alphabet": "protein", "ambiguous": "error", "task_type": "regression", "classes": None, "scaler": scaler}
    models = []
    for seed in range(args.members):
        torch.manual_seed(seed)
        model = build("lyra", len(letters), 1, {"d_model": 64, "d_state": 64}, "regression")
        model.module.eval()
        models.append(model)
    ensemble = Ensemble(models, [meta] * args.members, [f"m{i}" for i in range(args.members)])
    started = time.perf_counter()
    table = saturation_mutagenesis(ensemble, reference, device=args.device)
    seconds = time.perf_counter() - started
    result = {
        "length": args.length, "mutants": len(table), "members": args.members, "threads": args.threads,
        "device": args.device, "seconds": round(seconds, 2), "mutants_per_s": round(len(table) / seconds, 1),
    }
    if args.compare:  # the same substitutions as full sequences, one forward pass each
        sequences = [reference[:p - 1] + m + reference[p:] for p, m in zip(table["position"], table["mut"])]
        started = time.perf_counter()
        generic = mutant_effects(ensemble, reference, sequences, device=args.device)
        result["full_forward_seconds"] = round(time.perf_counter() - started, 2)
        result["speedup"] = round(result["full_forward_seconds"] / seconds, 2)
        result["max_abs_effect_difference"] = float(np.abs(generic["effect"].to_numpy() - table["effect"].to_numpy()).max())
    result.update({"load_average_after": os.getloadavg(), "cpu": platform.processor() or platform.machine(),
                   "torch": torch.__version__})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
