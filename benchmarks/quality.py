"""Lyra vs one-hot ridge on fixed-length landscapes (issue 15): model options and recipes.

Every number this script reports is on VALIDATION rows (test rows are never scored).
One experiment = one (landscape, setting, seed); results are appended as JSON lines.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/quality.py --data user40 --setting base --seed 0 \
        --out benchmarks/quality_results.jsonl

``--setting ridge`` fits RidgeCV on flattened one-hot (lyra.nn.baselines.ridge_baseline) on
the same train rows and scores the validation rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

torch.set_num_threads(1)

from lyra.nn.baselines import ridge_baseline  # noqa: E402
from lyra.data.encode import one_hot  # noqa: E402
from lyra.metrics import METRICS  # noqa: E402
from lyra.nn.lyra import Lyra  # noqa: E402
from lyra.nn.lyra import options_needing_max_len  # noqa: E402
from lyra.data.splits import random_splits  # noqa: E402
from lyra.data.synthetic import epistasis_landscape  # noqa: E402
from lyra.nn.ridge_start import start_from_ridge  # noqa: E402
from lyra.nn.run import EncodedSet, predict_outputs  # noqa: E402
from lyra.training.loop import TrainerConfig, fit, seed_everything  # noqa: E402

GB1 = Path(__file__).resolve().parents[2] / "shared" / "data" / "gb1_wu2016_relso" / "GB1_WU_train_data.csv"


def _saturating(frame: pd.DataFrame, seed: int, noise: float = 0.1) -> pd.DataFrame:
    """A sigmoid of the (standardised) landscape plus noise: a saturating fitness."""
    rng = np.random.default_rng(seed + 1000)
    s = frame["target"].to_numpy()
    frame = frame.copy()
    frame["target"] = 1.0 / (1.0 + np.exp(-1.5 * s)) + noise * rng.standard_normal(len(s)) * 0.25
    return frame


def landscape(name: str, seed: int) -> tuple[pd.DataFrame, str, np.ndarray]:
    """(table with sequence/target, alphabet, split labels train/valid/test)."""
    if name == "syn_epistasis":  # the shipped synthetic_epistasis task (config.yaml), split as the workflow does
        frame = epistasis_landscape(4000, 30, "dna", (1, 2, 3), (30, 20, 10), 0.1, seed=0)
        return frame, "dna", random_splits(len(frame), [0.8, 0.1, 0.1], 0)
    if name.startswith("order"):  # the interaction-order experiment (config/experiments.yaml)
        k = int(name[5:])
        frame = epistasis_landscape(2000, 20, "dna", (k,), (10,), 0.1, seed=0)
        return frame, "dna", random_splits(len(frame), [0.8, 0.1, 0.1], 0)
    if name == "user40":  # like the user's report: 40 aa, 8000/1000/2000, additive + distant pairs + 3-way, saturating
        frame = epistasis_landscape(11000, 40, "protein", (1, 2, 3), (40, 20, 5), 0.0, seed=100 + seed)
        return _saturating(frame, seed), "protein", random_splits(len(frame), [8 / 11, 1 / 11, 2 / 11], seed)
    if name == "prot60":  # protein, mostly pairwise
        frame = epistasis_landscape(6000, 60, "protein", (1, 2), (20, 60), 0.2, seed=200 + seed)
        return frame, "protein", random_splits(len(frame), [0.8, 0.1, 0.1], seed)
    if name == "dna100":  # long DNA, additive + pairwise + 3-way
        frame = epistasis_landscape(5000, 100, "dna", (1, 2, 3), (60, 40, 20), 0.1, seed=300 + seed)
        return frame, "dna", random_splits(len(frame), [0.8, 0.1, 0.1], seed)
    if name == "gb1":  # GB1 ReLSO train file, subsampled: 8000 train / 2000 valid (test file untouched)
        raw = pd.read_csv(GB1, header=None, names=["sequence", "fitness"])
        rng = np.random.default_rng(seed)
        rows = rng.choice(len(raw), 10000, replace=False)
        frame = raw.iloc[rows].reset_index(drop=True)
        frame["target"] = np.log(frame["fitness"] + 0.001)
        return frame, "protein", np.array(["train"] * 8000 + ["valid"] * 2000)
    if name == "varlen":  # variable length (40-60 aa): the options must keep working
        frame = epistasis_landscape(5000, 60, "protein", (1, 2), (30, 30), 0.1, seed=400 + seed)
        rng = np.random.default_rng(seed)
        cut = rng.integers(40, 61, len(frame))
        frame["sequence"] = [s[:c] for s, c in zip(frame["sequence"], cut)]
        frame["target"] = frame["target"] + 0.05 * (cut - 50)
        return frame, "protein", random_splits(len(frame), [0.8, 0.1, 0.1], seed)
    raise ValueError(name)


SHIPPED_MODEL = {"d_model": 64, "d_state": 64, "dropout": 0.2}
SHIPPED_TRAINER = {"epochs": 20, "batch_size": 128, "lr": 1e-3, "weight_decay": 0.01, "patience": 5}
RECIPE = {"scheduler": "warmup_cosine", "warmup_fraction": 0.1, "patience": 100}

SETTINGS = {
    "base": ({}, {}),
    "recipe": ({}, RECIPE),
    "pos": ({"position_embedding": "learned"}, {}),
    "sin": ({"position_embedding": "sinusoidal", "position_scale": 0.2}, {}),
    "skip": ({"linear_skip": True}, {}),
    "flat": ({"readout": "flatten"}, {}),
    "bidir": ({"bidirectional": True}, {}),
    "res": ({"pgc_residual": True}, {}),
    "pos_skip": ({"position_embedding": "learned", "linear_skip": True}, {}),
    "pos_skip_recipe": ({"position_embedding": "learned", "linear_skip": True}, RECIPE),
    "flat_skip": ({"readout": "flatten", "linear_skip": True}, {}),
    "flat_skip_recipe": ({"readout": "flatten", "linear_skip": True}, RECIPE),
    "pos_recipe": ({"position_embedding": "learned"}, RECIPE),
    "skip_recipe": ({"linear_skip": True}, RECIPE),
    "rinit": ({"linear_skip": True}, {"ridge_init": True}),
    "pos_rinit": ({"position_embedding": "learned", "linear_skip": True}, {"ridge_init": True}),
    "pos_rinit_frozen": ({"position_embedding": "learned", "linear_skip": True, "skip_lr": 0.0}, {"ridge_init": True}),
    "pos_rinit_recipe": ({"position_embedding": "learned", "linear_skip": True}, {"ridge_init": True, **RECIPE}),
    "flat_rinit": ({"readout": "flatten", "linear_skip": True}, {"ridge_init": True}),
    "pos_skip_hid": ({"position_embedding": "learned", "linear_skip": True, "hidden_head": 256}, {}),
}


def parse_extra(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        out[key] = json.loads(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--setting", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", nargs="*", default=[], help="extra model options key=json")
    ap.add_argument("--trainer", nargs="*", default=[], help="extra trainer options key=json")
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", default="benchmarks/quality_results.jsonl")
    args = ap.parse_args()

    frame, alphabet, split = landscape(args.data, args.seed)
    split = np.asarray(split)
    x, mask = one_hot(frame["sequence"].tolist(), alphabet)
    parts = {name: np.flatnonzero(split == name) for name in ("train", "valid")}
    y = frame["target"].to_numpy(dtype=float)
    mean, sd = y[parts["train"]].mean(), y[parts["train"]].std()
    ys = torch.as_tensor((y - mean) / sd, dtype=torch.float32)
    started = time.perf_counter()
    row = {"data": args.data, "setting": args.setting + args.tag, "seed": args.seed, "length": int(x.shape[1]),
           "n_train": len(parts["train"]), "n_valid": len(parts["valid"])}
    if args.setting == "ridge":
        result = ridge_baseline(x[parts["train"]].numpy(), ys[parts["train"]].numpy(), x[parts["valid"]].numpy(),
                                "regression")
        pred = result.predictions
        train_pred = result.model.predict(x[parts["train"]].reshape(len(parts["train"]), -1).numpy())
        row.update(alpha=float(result.model.alpha_))
    else:
        model_opts, trainer_opts = SETTINGS[args.setting]
        model_opts = {**SHIPPED_MODEL, **model_opts, **parse_extra(args.model)}
        trainer_opts = {**SHIPPED_TRAINER, **trainer_opts, **parse_extra(args.trainer), "seed": args.seed}
        if options_needing_max_len(model_opts):
            model_opts["max_len"] = int(x.shape[1])
        config = TrainerConfig.from_dict(trainer_opts)
        seed_everything(config.seed)
        model = Lyra(x.shape[-1], 1, **model_opts)
        sets = {k: EncodedSet(x[v], mask[v], ys[v]) for k, v in parts.items()}
        start_from_ridge(model, sets["train"], config.ridge_init, config.freeze_ridge, regression=True)
        res = fit(model, sets["train"], sets["valid"], "regression", config, torch.device("cpu"), progress=False)
        model.load_state_dict(res.best_state)
        pred = predict_outputs(model, x[parts["valid"]], mask[parts["valid"]], 1024, "cpu")[:, 0]
        train_pred = predict_outputs(model, x[parts["train"]], mask[parts["train"]], 1024, "cpu")[:, 0]
        hist = res.history
        row.update(model=model_opts, trainer=trainer_opts, best_epoch=res.best_epoch, epochs_run=len(hist),
                   n_params=sum(p.numel() for p in model.parameters()),
                   valid_curve=[round(v, 4) for v in hist["valid_spearman"].tolist()])
    row["valid_spearman"] = float(METRICS["spearman"](ys[parts["valid"]].numpy(), pred).value)
    row["train_spearman"] = float(METRICS["spearman"](ys[parts["train"]].numpy(), train_pred).value)
    row["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps({k: v for k, v in row.items() if k not in ("model", "trainer")}))
    with open(args.out, "a") as handle:
        handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
