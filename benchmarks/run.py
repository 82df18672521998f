"""Speed and memory of Lyra against a Transformer encoder, in one run.

    python benchmarks/run.py            # full table, about 2-4 minutes on 2 CPU cores
    python benchmarks/run.py --quick    # fewer repeats and lengths, for a smoke test

Two measurements:

* Training throughput (sequences/s) in the GB1 configuration: Lyra(d_input=20,
  d_output=1, d_model=64, d_state=64, dropout=0.2) and a 1-layer Transformer encoder of
  similar parameter count, batch 256, length 56, AdamW, MSE, trained through
  ``lyra.training.loop.fit`` on random one-hot sequences (the speed does not depend on the
  letters). Each epoch's time comes from fit's own history, so it includes the
  per-epoch validation pass; the first epoch (warm-up) is dropped. The two models
  alternate over several rounds so that they share the machine's load.
* One sequence of length L through the model in eval mode without autograd: the
  median time of several calls after a warm-up call, and the peak extra memory, both
  measured in a fresh subprocess per (model, L). Peak extra memory is the process's
  peak resident set size (Linux VmHWM; ``ru_maxrss`` elsewhere) after the calls minus
  its resident set size just before them (model and input already built). The S4D
  kernel is cached in eval mode, so the timed calls reuse it; the one-off time to
  build it is reported separately ("kernel build"). A short call before the baseline
  is taken keeps one-off library loading out of the memory figure. Transformer points
  whose attention scores and softmax alone (2 x heads x L x L float32) would not fit in
  half the available memory are not run and are shown as "OOM (estimated N GB)".

Results are printed as a table and written as JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from lyra.config import TrainerConfig
from lyra.report.scaling import GB1, build_model, format_forward, forward_table, machine, n_cpus, n_parameters, random_one_hot
from lyra.nn.run import EncodedSet
from lyra.training.loop import fit

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LENGTHS = (1_024, 4_096, 16_384, 65_536)
TARGETS = {
    "forward_65536_s": 0.3,
    "forward_65536_mb": 500.0,
    "speedup_16384": 30.0,
    "train_ratio": 1.2,
    "train_seq_per_s": 4_000.0,
}


# ---------------------------------------------------------------- training throughput


def training_epochs(name: str, n_train: int, epochs: int) -> list[float]:
    """Sequences/s of each epoch after the first, training ``name`` through ``lyra.training.loop.fit``."""
    generator = torch.Generator().manual_seed(0)
    length = GB1["length"]
    n_valid = GB1["batch_size"]
    x = random_one_hot(n_train + n_valid, length, generator)
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    y = torch.randn(n_train + n_valid, generator=generator)
    train = EncodedSet(x[:n_train], mask[:n_train], y[:n_train])
    valid = EncodedSet(x[n_train:], mask[n_train:], y[n_train:])
    torch.manual_seed(0)
    model = build_model(name, length)
    config = TrainerConfig(epochs=epochs, batch_size=GB1["batch_size"], patience=epochs, seed=0)
    result = fit(model, train, valid, "regression", config, torch.device("cpu"), progress=False)
    return [n_train / seconds for seconds in result.history["seconds"].iloc[1:]]


def training_throughput(rounds: int, n_train: int, epochs: int) -> dict:
    """Median sequences/s per model over alternating rounds."""
    per_epoch = {"lyra": [], "transformer": []}
    for _ in range(rounds):
        for name in per_epoch:
            per_epoch[name] += training_epochs(name, n_train, epochs)
    return {
        name: {
            "parameters": n_parameters(build_model(name, GB1["length"])),
            "seq_per_s": statistics.median(values),
            "seq_per_s_all": values,
        }
        for name, values in per_epoch.items()
    }


# ---------------------------------------------------------------- report


def targets(training: dict, forward: list[dict]) -> list[dict]:
    """Each target of the performance issue with the measured value."""
    by_point = {(r["model"], r["length"]): r for r in forward}
    lyra_long = by_point.get(("lyra", 65_536), {})
    lyra_16k, tf_16k = by_point.get(("lyra", 16_384), {}), by_point.get(("transformer", 16_384), {})
    speedup = tf_16k["seconds"] / lyra_16k["seconds"] if "seconds" in tf_16k and "seconds" in lyra_16k else None
    lyra_rate, tf_rate = training["lyra"]["seq_per_s"], training["transformer"]["seq_per_s"]
    checks = [
        ("forward L=65,536 time (s)", lyra_long.get("seconds"), TARGETS["forward_65536_s"], "<="),
        ("forward L=65,536 peak extra memory (MB)", lyra_long.get("peak_extra_mb"), TARGETS["forward_65536_mb"], "<="),
        ("forward speedup over Transformer at L=16,384", speedup, TARGETS["speedup_16384"], ">="),
        ("training seq/s, Lyra / Transformer", lyra_rate / tf_rate, TARGETS["train_ratio"], ">="),
        ("training seq/s, Lyra", lyra_rate, TARGETS["train_seq_per_s"], ">="),
    ]
    out = []
    for what, value, target, sense in checks:
        met = None if value is None else (value <= target if sense == "<=" else value >= target)
        out.append({"what": what, "value": value, "target": f"{sense} {target:g}", "met": met})
    return out


def render(report: dict) -> str:
    m, tr = report["machine"], report["training"]
    lines = [
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, torch {m['torch']} ({m['torch_threads']} threads); "
        f"load average {report['load_before'][0]:.2f} before, {report['load_after'][0]:.2f} after",
        "",
        "Training, GB1 configuration (batch 256, L 56, AdamW, MSE, lyra.training.loop.fit)",
        "| model | parameters | sequences/s |",
        "|---|---:|---:|",
    ]
    for name in ("lyra", "transformer"):
        lines.append(f"| {name} | {tr[name]['parameters']:,} | {tr[name]['seq_per_s']:,.0f} |")
    lines += [
        "",
        "One sequence, eval mode, no autograd (median time; peak extra memory)",
        "| L | Lyra | Lyra kernel build | Transformer | speedup |",
        "|---:|---:|---:|---:|---:|",
    ]
    by_point = {(r["model"], r["length"]): r for r in report["forward"]}
    for length in sorted({r["length"] for r in report["forward"]}):
        lyra, tf = by_point[("lyra", length)], by_point[("transformer", length)]
        kernel = f"{lyra['kernel_s']:.3f} s" if lyra.get("kernel_s") is not None else "-"
        speedup = f"{tf['seconds'] / lyra['seconds']:.0f}x" if "seconds" in tf and "seconds" in lyra else "-"
        lines.append(f"| {length:,} | {format_forward(lyra)} | {kernel} | {format_forward(tf)} | {speedup} |")
    lines += ["", "Targets", "| target | measured | goal | met |", "|---|---:|---:|---|"]
    for t in report["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:,.3g}"
        met = "-" if t["met"] is None else ("yes" if t["met"] else "no")
        lines.append(f"| {t['what']} | {value} | {t['target']} | {met} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, lengths up to 16,384")
    parser.add_argument("--threads", type=int, default=n_cpus(), help="torch threads (default: all CPUs)")
    parser.add_argument("--repeats", type=int, default=5, help="timed forward calls per point")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: benchmarks/results/<time>.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    load_before = os.getloadavg()
    lengths = LENGTHS[:3] if args.quick else LENGTHS

    def repeats_for(name, length):
        slow = name == "transformer" and length >= 16_384
        return 1 if args.quick else (3 if slow else args.repeats)

    print("training throughput ...", file=sys.stderr)
    training = training_throughput(rounds=1 if args.quick else 2, n_train=GB1["batch_size"] * 16,
                                   epochs=2 if args.quick else 3)
    print("one-sequence forwards ...", file=sys.stderr)
    forward = forward_table(lengths, args.threads, repeats_for)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "training": training,
        "forward": forward,
    }
    report["targets"] = targets(training, forward)
    out = args.out or RESULTS_DIR / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(render(report))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
