"""Forward time and peak memory of Lyra and a Transformer of the same size on one long
sequence, each point in a fresh process: used by ``benchmarks/run.py`` and by the
workflow's scaling experiment (rule ``experiment_scaling``).

The models are the GB1 configuration: Lyra(d_input=20, d_output=1, d_model=64,
d_state=64, dropout=0.2) and a 1-layer Transformer encoder of similar parameter count.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from lyra.nn.baselines import TransformerEncoderModel
from lyra.nn.lyra import Lyra

GB1 = {"n_letters": 20, "length": 56, "batch_size": 256}
TRANSFORMER_TRAIN_MAX_LEN = 200  # 47,681 parameters, Lyra has 47,169


def n_cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def build_model(name: str, length: int) -> torch.nn.Module:
    """The benchmarked models; the Transformer's position table must cover ``length``."""
    if name == "lyra":
        return Lyra(d_input=GB1["n_letters"], d_output=1, d_model=64, d_state=64, dropout=0.2)
    return TransformerEncoderModel(d_input=GB1["n_letters"], d_output=1, max_len=max(length, TRANSFORMER_TRAIN_MAX_LEN))


def n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def random_one_hot(n: int, length: int, generator: torch.Generator) -> torch.Tensor:
    tokens = torch.randint(0, GB1["n_letters"], (n, length), generator=generator)
    return torch.nn.functional.one_hot(tokens, GB1["n_letters"]).float()


def attention_gb(length: int, n_heads: int = 4) -> float:
    """Memory of one layer's float32 attention scores and their softmax (heads x L x L each)."""
    return 2 * n_heads * length * length * 4 / 1e9


def available_gb() -> float:
    """Memory available to new processes (Linux MemAvailable, else free pages)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9


def current_rss_bytes() -> int:
    """Resident set size now (Linux /proc; elsewhere the peak so far)."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process image.

    On Linux this is VmHWM from /proc: ``ru_maxrss`` would be wrong here, because Linux
    carries it across exec, so a subprocess started by a large parent reports the
    parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def forward_point(name: str, length: int, repeats: int) -> dict:
    """Time and peak extra memory of eval-mode forwards of one sequence (run in a fresh process)."""
    torch.manual_seed(0)
    model = build_model(name, length).eval()
    x = random_one_hot(1, length, torch.Generator().manual_seed(0))
    kernel_s = None
    if name == "lyra":
        with torch.no_grad():
            started = time.perf_counter()
            model.s4d_layers[0].kernel(length)
            kernel_s = time.perf_counter() - started
    with torch.no_grad():
        model(x[:, :64])  # loads the libraries a first call pulls in, so they do not count as extra memory
    before = current_rss_bytes()
    times = []
    with torch.no_grad():
        model(x)  # warm-up at full length; builds Lyra's cached kernel
        for _ in range(repeats):
            started = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - started)
    return {
        "model": name,
        "length": length,
        "seconds": statistics.median(times),
        "seconds_all": times,
        "peak_extra_mb": (peak_rss_bytes() - before) / 1e6,
        "kernel_s": kernel_s,
    }


def forward_in_subprocess(name: str, length: int, repeats: int, threads: int) -> dict:
    """``forward_point`` in a fresh Python process with ``threads`` torch threads."""
    command = [sys.executable, "-m", "lyra.report.scaling", name, str(length), str(repeats), str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"model": name, "length": length, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout)


def forward_table(lengths, threads: int, repeats_for) -> list[dict]:
    rows = []
    for length in lengths:
        for name in ("lyra", "transformer"):
            estimate = attention_gb(length)
            if name == "transformer" and estimate > 0.5 * available_gb():
                rows.append({"model": name, "length": length, "oom_estimated_gb": estimate})
                continue
            rows.append(forward_in_subprocess(name, length, repeats_for(name, length), threads))
            print(f"  forward {name:<11} L={length:>6}: {format_forward(rows[-1])}", file=sys.stderr)
    return rows


def format_forward(row: dict) -> str:
    if "oom_estimated_gb" in row:
        return f"OOM (estimated {row['oom_estimated_gb']:.1f} GB)"
    if "error" in row:
        return f"failed: {row['error']}"
    return f"{row['seconds']:.3f} s, {row['peak_extra_mb']:.0f} MB"


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": n_cpus(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


if __name__ == "__main__":  # one point: python -m lyra.report.scaling MODEL LENGTH REPEATS THREADS
    torch.set_num_threads(int(sys.argv[4]))
    print(json.dumps(forward_point(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
