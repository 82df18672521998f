"""Two CPU trainings: one after the other with 2 threads each, or side by side with 1 each.

    python benchmarks/training_threads.py            # about 1.5 minutes on 2 CPU cores
    python benchmarks/training_threads.py --quick    # one shape, fewer epochs

The default run has dozens of independent Lyra trainings, so on a CPU the question for
the training rules' ``threads`` is throughput: do two jobs of 1 thread each, run at once,
finish sooner than the same two jobs run one after the other with 2 threads each? Each
training is a fresh process (as a Snakemake job is) that trains a model the size of a
shipped task's on random one-hot sequences with ``lyra.training.loop.fit``; the wall time of
each arrangement includes starting Python and importing torch, as a job's does. The
ratio sequential / side by side is the speed-up of 1-thread jobs (above 1: they win).
A benchmark, not a test: nothing asserts on a time. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

# shapes of shipped tasks' trainings: alphabet size, length, training rows, batch, model
SHAPES = {
    "proteingym (RASH-like)": dict(n_letters=20, length=189, n_train=2_400, batch_size=128,
                                   model=dict(d_model=32, d_state=32)),
    "crispr": dict(n_letters=4, length=30, n_train=8_000, batch_size=256, model=dict(d_model=64, d_state=64)),
    "splice_uci": dict(n_letters=4, length=60, n_train=2_000, batch_size=128,
                       model=dict(d_model=128, d_state=64, bidirectional=True, pooling="max")),
}


def train_once(shape: str, threads: int, epochs: int) -> float:
    """Seconds ``lyra.training.loop.fit`` takes for ``epochs`` epochs of ``shape`` with ``threads`` threads."""
    import torch

    from lyra.config import TrainerConfig
    from lyra.nn.lyra import Lyra
    from lyra.nn.run import EncodedSet
    from lyra.training.loop import fit

    torch.set_num_threads(threads)
    spec = SHAPES[shape]
    generator = torch.Generator().manual_seed(0)
    n = spec["n_train"] + spec["batch_size"]
    tokens = torch.randint(0, spec["n_letters"], (n, spec["length"]), generator=generator)
    x = torch.nn.functional.one_hot(tokens, spec["n_letters"]).float()
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    y = torch.randn(n, generator=generator)
    cut = spec["n_train"]
    train = EncodedSet(x[:cut], mask[:cut], y[:cut])
    valid = EncodedSet(x[cut:], mask[cut:], y[cut:])
    torch.manual_seed(0)
    model = Lyra(d_input=spec["n_letters"], d_output=1, dropout=0.2, **spec["model"])
    config = TrainerConfig(epochs=epochs, batch_size=spec["batch_size"], patience=epochs, seed=0)
    start = time.perf_counter()
    fit(model, train, valid, "regression", config, torch.device("cpu"), progress=False)
    return time.perf_counter() - start


def start_worker(shape: str, threads: int, epochs: int) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, __file__, "--worker", shape, str(threads), str(epochs)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def finish(workers: list[subprocess.Popen]) -> list[float]:
    """Training seconds each worker printed; a failed worker stops the benchmark."""
    seconds = []
    for worker in workers:
        out, _ = worker.communicate()
        if worker.returncode != 0:
            sys.exit(f"a training worker failed (exit {worker.returncode})")
        seconds.append(float(out.strip().splitlines()[-1]))
    return seconds


def compare(shape: str, epochs: int) -> dict:
    """Wall seconds of two 2-thread jobs in sequence and of two 1-thread jobs side by side."""
    start = time.perf_counter()
    sequential = [finish([start_worker(shape, 2, epochs)])[0] for _ in range(2)]
    sequential_wall = time.perf_counter() - start
    start = time.perf_counter()
    side_by_side = finish([start_worker(shape, 1, epochs) for _ in range(2)])
    side_by_side_wall = time.perf_counter() - start
    return {"shape": shape, "epochs": epochs, "sequential_2_threads_wall_s": round(sequential_wall, 1),
            "sequential_fit_s": [round(s, 1) for s in sequential],
            "side_by_side_1_thread_wall_s": round(side_by_side_wall, 1),
            "side_by_side_fit_s": [round(s, 1) for s in side_by_side],
            "speedup_of_1_thread_jobs": round(sequential_wall / side_by_side_wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one shape, 2 epochs")
    parser.add_argument("--worker", nargs=3, metavar=("SHAPE", "THREADS", "EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        shape, threads, epochs = args.worker
        print(train_once(shape, int(threads), int(epochs)))
        return
    shapes = list(SHAPES)[:1] if args.quick else list(SHAPES)
    print(f"load average before: {os.getloadavg()[0]:.2f}; CPUs: {os.cpu_count()}")
    rows = [compare(shape, 2 if args.quick else 4) for shape in shapes]
    print("| shape | 2 x (2 threads) in sequence, s | 2 x (1 thread) side by side, s | speed-up |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['shape']} | {row['sequential_2_threads_wall_s']} | {row['side_by_side_1_thread_wall_s']} "
              f"| {row['speedup_of_1_thread_jobs']} |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
