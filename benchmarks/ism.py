"""Time in-silico saturation mutagenesis: every single substitution of a random protein.

    python benchmarks/ism.py                      # 1,000 aa: 19 x 1,000 = 19,000 mutants, 1 thread
    python benchmarks/ism.py --length 200 --members 3 --threads 2

The model is an untrained Lyra of the GB1 configuration (d_model 64, d_state 64: 47,169
parameters; the speed does not depend on the weights), wrapped as an ensemble of
``--members`` copies, scored through ``lyra.mutagenesis.saturation_mutagenesis`` (the
code path of ``lyra mutagenesis``: mutant strings, chunked one-hot encoding, batched
forward passes). Prints one JSON line: wall time, mutants/s, machine load. A benchmark,
not a test: nothing asserts on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from lyra.alphabets import get_alphabet
from lyra.ensemble import Ensemble
from lyra.models import build
from lyra.mutagenesis import saturation_mutagenesis
from lyra.transforms import TargetScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=1000, help="protein length (default 1000)")
    parser.add_argument("--members", type=int, default=1, help="ensemble members (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
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
    print(json.dumps({
        "length": args.length, "mutants": len(table), "members": args.members, "threads": args.threads,
        "device": args.device, "seconds": round(seconds, 2), "mutants_per_s": round(len(table) / seconds, 1),
        "load_average_after": os.getloadavg(), "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
