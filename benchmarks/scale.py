"""Peak memory and time per step of Lyra training and prediction as the data set grows.

For each point (n sequences of length L) a random DNA data set is written as a CSV (the
format a user gives), then a fresh Python process per phase runs, as the workflow's jobs do:

- prepare: the user's CSV through the real reader (``lyra.data.records.load_records``) and
  ``lyra.data.splits.assign`` into ``prepared.tsv`` (rule prepare);
- train: ``prepared.tsv`` read as a training job reads it (``lyra.results.read_prepared_coded``:
  one byte per position), the fold encoded (``lyra.models.fold.FoldFit``), then the first
  ``--steps`` training steps (``lyra.training.loop.train_epoch`` on the first ``steps x batch`` rows
  of the epoch's shuffled order);
- predict: the same load, then ``--steps`` batches predicted (``lyra.nn.run.predict_outputs``).

Each process reports its peak resident memory (``resource.getrusage``, the whole
process: Python, torch, the reader, the data and the model) and the seconds per step.
The target (docs/performance.md): the training job's peak (load + 200 steps) <= 1.5 GB +
1 byte per position of the data set at 10^6 x 1,000 and 10^4 x 65,536. The prepare job
holds the sequences as text and is reported beside it.

    python benchmarks/scale.py                  # quick: 10^4 x 1,000 and 10^4 x 1,024..4,096
    python benchmarks/scale.py --full           # n 10^4..10^6 at L 1,000; L 1,024..65,536 at n 10^4
    python benchmarks/scale.py --points 1000000x1000 10000x65536
    python benchmarks/scale.py --points 1000000x1000 --phases predict   # re-measure one phase

With ``--phases`` only those phases run (prepare always runs first: the others read its
table, but it is reported only when named) and the other phases' rows of ``--out`` are kept.

Writes ``--out`` (TSV) and a plot beside it (``.png``). Batches hold about
``--tokens`` positions (batch = tokens // L, at least 1), so the model's activations stay
the same size along the L axis. Times on a shared CPU are indicative only.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

QUICK = [(10_000, 1_000), (10_000, 1_024), (10_000, 4_096)]
FULL = ([(n, 1_000) for n in (10_000, 30_000, 100_000, 300_000, 1_000_000)]
        + [(10_000, length) for length in (1_024, 4_096, 16_384, 65_536)])
MODEL = {"d_model": 64, "d_state": 64, "dropout": 0.2, "position_aware": False}  # the package's Lyra, no position-tied heads
GB = 1e9


def write_csv(path: Path, n: int, length: int, seed: int = 0, rows_per_chunk: int = 2_000) -> None:
    """``n`` random DNA sequences of ``length`` with a target (the fraction of G) as CSV."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "w") as handle:
        handle.write("id,sequence,target\n")
        for first in range(0, n, rows_per_chunk):
            rows = min(rows_per_chunk, n - first)
            codes = rng.integers(0, 4, size=(rows, length), dtype=np.uint8)
            targets = (codes == 2).mean(1) + rng.normal(0, 0.01, rows)
            text = letters[codes]
            handle.writelines(f"s{first + i},{text[i].tobytes().decode()},{targets[i]:.6f}\n" for i in range(rows))


def _task(csv: Path):
    from lyra.config import task_from_config

    config = {"model": MODEL, "trainer": {"epochs": 1},
              "tasks": {"scale": {"input": {"format": "csv", "path": str(csv)},
                                  "columns": {"sequence": "sequence", "target": "target", "id": "id"},
                                  "alphabet": "dna", "task_type": "regression",
                                  "split": {"scheme": "random", "fractions": [0.8, 0.1, 0.1], "seed": 0}}}}
    return task_from_config(config, "scale")


def worker(csv: Path, phase: str, steps: int, batch: int) -> dict:
    """One phase in this process: its load, then ``steps`` steps; peak memory and times."""
    import torch

    from lyra.data import splits
    from lyra.nn import run
    from lyra.training import loop as train
    from lyra.data.records import load_records
    from lyra.models.fold import FoldFit
    from lyra.results import read_prepared_coded, write_prepared

    torch.set_num_threads(2)
    started = time.perf_counter()
    task = _task(csv)
    prepared_path = csv.with_suffix(".prepared.tsv")
    if phase == "prepare":
        write_prepared(splits.assign(load_records(task, csv.parent), task.split, task.name), prepared_path)
        return {"phase": phase, "n_steps": 0, "batch": batch, "load_seconds": time.perf_counter() - started,
                "seconds_per_step": float("nan"), "peak_rss_gb": _peak_gb(), "codes_gb": float("nan")}
    prepared, inputs = read_prepared_coded(prepared_path, task.alphabet, task.ambiguous)
    view = splits.view(prepared, 0, task.split)
    fold = FoldFit(view, task, None, "lyra", None, inputs)
    load_seconds = time.perf_counter() - started
    module = fold.model.module
    config = train.TrainerConfig(batch_size=batch, eval_batch_size=batch, seed=0)
    started = time.perf_counter()
    if phase == "train":
        data = fold.sets["train"]
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[: steps * batch]
        part = data.x.subset(order)
        head = run.EncodedSet(part, part.mask, data.y[order])
        optimizer = torch.optim.AdamW(train.optimizer_groups(module, config.weight_decay, config.lr))
        generator = torch.Generator().manual_seed(0)
        train.train_epoch(module, head, optimizer, "regression", config, torch.device("cpu"), generator)
        n_steps = -(-len(head) // batch)
    else:
        rows = torch.arange(min(len(fold.x), steps * batch))
        x = fold.x.subset(rows)
        run.predict_outputs(module, x, x.mask, batch, "cpu")
        n_steps = -(-len(rows) // batch)
    seconds = time.perf_counter() - started
    return {"phase": phase, "n_steps": n_steps, "batch": batch, "load_seconds": load_seconds,
            "seconds_per_step": seconds / max(1, n_steps), "peak_rss_gb": _peak_gb(),
            "codes_gb": fold.x.codes.numel() / GB}


def _peak_gb() -> float:
    """This process's peak resident memory (``ru_maxrss`` is in kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


PHASES = ("prepare", "train", "predict")


def run_point(n: int, length: int, steps: int, tokens: int, tmp: Path, phases=PHASES) -> list[dict]:
    csv = tmp / f"scale_{n}x{length}.csv"
    write_csv(csv, n, length)
    batch = max(1, tokens // length)
    rows = []
    for phase in [p for p in PHASES if p == "prepare" or p in phases]:
        out = subprocess.run([sys.executable, __file__, "--worker", str(csv), phase, str(steps), str(batch)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{n}x{length} {phase} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        positions = n * length
        result.update(n=n, length=length, positions=positions, csv_gb=csv.stat().st_size / GB,
                      target_gb=1.5 + positions / GB)
        result["within_target"] = result["peak_rss_gb"] <= result["target_gb"] if phase != "prepare" else None
        if phase in phases:
            rows.append(result)
        print(json.dumps(result), flush=True)
    csv.unlink()
    csv.with_suffix(".prepared.tsv").unlink()
    return rows


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (axis, fixed, label) in zip(axes, (("n", "length", "sequences n (L = 1,000)"),
                                              ("length", "n", "length L (n = 10,000)"))):
        sweep = table[table[fixed] == (1_000 if fixed == "length" else 10_000)]
        for phase, rows in sweep.groupby("phase"):
            rows = rows.sort_values(axis)
            ax.plot(rows[axis], rows["peak_rss_gb"], "o-", label=f"{phase} job: peak RSS")
        if len(sweep):
            targets = sweep.drop_duplicates(axis).sort_values(axis)
            ax.plot(targets[axis], targets["target_gb"], "k--", label="target 1.5 GB + 1 B/position")
        ax.set(xscale="log", xlabel=label, ylabel="GB")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the whole grid (hours on a CPU)")
    parser.add_argument("--points", nargs="*", help="points as NxL, e.g. 1000000x1000")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=32_768, help="positions per batch (batch = tokens // L)")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES),
                        help="phases to measure (default all); the other phases' rows of --out are kept")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/scale.tsv"))
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        csv, phase, steps, batch = args.worker
        print(json.dumps(worker(Path(csv), phase, int(steps), int(batch))))
        return
    points = ([tuple(int(v) for v in p.split("x")) for p in args.points] if args.points
              else FULL if args.full else QUICK)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lyra-scale-") as tmp:
        for n, length in points:
            rows += run_point(n, length, args.steps, args.tokens, Path(tmp), args.phases)
    columns = ["n", "length", "positions", "phase", "batch", "n_steps", "seconds_per_step", "load_seconds",
               "peak_rss_gb", "target_gb", "within_target", "codes_gb", "csv_gb"]
    table = pd.DataFrame(rows)[columns]
    if set(args.phases) != set(PHASES) and args.out.exists():
        kept = pd.read_csv(args.out, sep="\t")
        measured = set(zip(table["n"], table["length"], table["phase"]))
        kept = kept[[key not in measured for key in zip(kept["n"], kept["length"], kept["phase"])]]
        table = pd.concat([kept, table], ignore_index=True).sort_values(["n", "length"], kind="stable")[columns]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    plot(table, args.out.with_suffix(".png"))
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
