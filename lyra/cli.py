"""The ``lyra`` command: train, predict and evaluate outside Snakemake.

    lyra train    --input data.csv --sequence-column seq --target-column y --alphabet protein --out-dir run/
    lyra predict  --model run/model.pt --input new.fasta --out predictions.tsv
    lyra evaluate --predictions run/predictions.tsv --task-type regression --out metrics.json

A task from a workflow config can be trained as it is: ``lyra train --config config/config.yaml
--task gb1_relso --out-dir run/``. Input errors print one line naming the file, the
record and the problem, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd
import yaml

from lyra.config import MODELS, Task, metric_names, task_from_config
from lyra.errors import LyraInputError, report_input_error

log = logging.getLogger("lyra")

TASK_TYPES = ("regression", "binary", "multiclass")


def _task_from_flags(args: argparse.Namespace) -> tuple[Task, Path]:
    """A task entry (as in config.yaml) built from command-line flags; data root is '/'."""
    fmt = args.format or _format_from_suffix(args.input)
    paths = {"train": str(Path(args.input).resolve())}
    if args.test_input:
        paths["test"] = str(Path(args.test_input).resolve())
    task = {
        "input": {"format": fmt, "header": not args.no_header},
        "columns": {"sequence": args.sequence_column, "target": args.target_column},
        "alphabet": args.alphabet,
        "ambiguous": args.ambiguous,
        "task_type": args.task_type,
        "metric": args.metric or ("spearman" if args.task_type == "regression" else "accuracy"),
        "split": {"valid_fraction": args.valid_fraction, "seed": args.seed},
    }
    if args.column_names:
        task["input"]["column_names"] = args.column_names.split(",")
    if fmt == "fasta":
        task["input"]["fasta_label_key"] = args.target_column
        task["columns"] = {}
    if args.id_column:
        task["columns"]["id"] = args.id_column
    if args.classes:
        task["classes"] = args.classes.split(",")
    if args.max_length:
        task["max_length"] = args.max_length
    if args.test_input:
        task["input"]["files"] = paths
        task["split"]["scheme"] = "files"
    else:
        task["input"]["path"] = paths["train"]
        if args.split_column:
            task["split"].update(scheme="column", column=args.split_column)
        else:
            task["split"].update(scheme="random", fractions=[1 - args.valid_fraction - args.test_fraction,
                                                             args.valid_fraction, args.test_fraction])
    if args.target_log_offset is not None:
        task["target_transform"] = {"name": "log", "offset": args.target_log_offset}
    task["model"] = _key_values(args.model_option)
    task["trainer"] = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                                         "weight_decay": args.weight_decay, "patience": args.patience,
                                         "seed": args.seed}.items() if v is not None}
    task["seed"] = args.seed
    return task_from_config({"tasks": {"cli": task}}, "cli", source="command line"), Path("/")


def _format_from_suffix(path: str) -> str:
    name = Path(path).name.lower().removesuffix(".gz")
    for suffix, fmt in ((".csv", "csv"), (".tsv", "tsv"), (".txt", "tsv"), (".fasta", "fasta"), (".fa", "fasta"),
                        (".fna", "fasta"), (".faa", "fasta")):
        if name.endswith(suffix):
            return fmt
    raise LyraInputError(path, "file name", "cannot tell the format from the extension; pass --format")


def _key_values(items: list[str] | None) -> dict:
    """Parse ``key=value`` options, values read as YAML scalars (numbers, booleans, lists)."""
    options = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--model-option expects key=value, got {item!r}")
        options[key.strip()] = yaml.safe_load(value)
    return options


def _cmd_train(args: argparse.Namespace) -> None:
    from lyra import splits
    from lyra.data import load_records
    from lyra.results import evaluate_task, read_predictions, write_json
    from lyra.runner import train_fold

    if args.config:
        if not args.task:
            raise ValueError("--config needs --task NAME")
        with open(args.config) as handle:
            config = yaml.safe_load(handle)
        task = task_from_config(config, args.task, source=args.config)
        data_root = Path(task.data_root or config.get("data_root", "."))
    else:
        if not (args.input and args.sequence_column and args.target_column and args.alphabet):
            raise ValueError("train needs --input, --sequence-column, --target-column and --alphabet (or --config/--task)")
        task, data_root = _task_from_flags(args)
    out_dir = Path(args.out_dir)
    records = load_records(task, data_root)
    prepared = splits.assign(records, task.split, task.name)
    folds = range(splits.n_folds(prepared)) if args.fold is None else [args.fold]
    prediction_files = []
    for fold in folds:
        fold_dir = out_dir / f"fold{fold}" if len(folds) > 1 or args.fold is not None else out_dir
        summary = train_fold(prepared, task, fold, fold_dir, args.model, args.device, progress=not args.quiet)
        log.info("fold %d: %s", fold, json.dumps(summary, default=str))
        prediction_files.append(fold_dir / "predictions.tsv")
    metrics = evaluate_task(read_predictions(*prediction_files), task)
    write_json(metrics, out_dir / "metrics.json")
    print(_headline(metrics))


def _cmd_predict(args: argparse.Namespace) -> None:
    from lyra.encode import normalise_sequences
    from lyra.io import read_fasta, read_table
    from lyra.results import write_predictions
    from lyra.runner import load_model, predict_sequences

    model, meta = load_model(args.model)
    fmt = args.format or _format_from_suffix(args.input)
    if fmt == "fasta":
        table = read_fasta(args.input)
        ids, sequences = table["id"].astype(str), table["sequence"]
    else:
        table = read_table(args.input, sep="," if fmt == "csv" else "\t", header=not args.no_header,
                           column_names=args.column_names.split(",") if args.column_names else None)
        if args.sequence_column not in table.columns:
            raise LyraInputError(args.input, "header", f"no column '{args.sequence_column}'; "
                                 f"columns: {', '.join(map(str, table.columns))}")
        sequences = table[args.sequence_column].astype(str)
        ids = table[args.id_column].astype(str) if args.id_column else pd.Series(range(len(table))).astype(str)
    normalised, _ = normalise_sequences(list(sequences), list(ids), meta["alphabet"], meta["ambiguous"],
                                        t_as_u=meta.get("t_as_u", False), source=str(args.input))
    frame = predict_sequences(model, meta, normalised, device=args.device, ids=list(ids))
    frame.insert(0, "sequence", normalised)
    frame.insert(0, "id", list(ids))
    if meta["classes"]:
        frame["y_pred_label"] = [meta["classes"][i] for i in frame["y_pred"]]
    write_predictions(frame, args.out)
    print(f"wrote {len(frame)} predictions to {args.out}")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from lyra.metrics import evaluate_predictions
    from lyra.results import read_predictions, write_json

    frame = read_predictions(args.predictions)
    for column in ("split", "y_true", "y_pred"):
        if column not in frame.columns:
            raise LyraInputError(args.predictions, "header", f"no column '{column}' (a lyra predictions.tsv has "
                                 "id, sequence, split, fold, y_true, y_pred)")
    if "fold" not in frame:
        frame["fold"] = 0
    metric = args.metric or ("spearman" if args.task_type == "regression" else "accuracy")
    classes = args.classes.split(",") if args.classes else None
    metrics = evaluate_predictions(frame, args.task_type, metric, classes, n_boot=args.n_boot, seed=args.seed)
    write_json(metrics, args.out)
    print(_headline(metrics))


def _headline(metrics: dict) -> str:
    """One line with the main test metric."""
    test = metrics.get("splits", {}).get("test", {})
    name = metrics.get("metric", "metric")
    value = test.get("value", {})
    shown = "undefined" if value.get("undefined", True) else f"{value['value']:.4f}"
    return f"test {name} = {shown} (n = {test.get('n', 0)})"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="lyra", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model on a CSV/TSV/FASTA file or a config task",
                           description="Train Lyra (or a baseline) with early stopping on a validation split; writes "
                                       "model.pt, history.csv, predictions.tsv and metrics.json to --out-dir.")
    train.add_argument("--config", help="workflow config YAML; train the task named by --task (its relative "
                       "paths, such as data_root, are read from the current directory: run from the repository root)")
    train.add_argument("--task", help="task name in --config")
    train.add_argument("--input", help="training data (CSV/TSV, optionally .gz, or FASTA with key=value labels)")
    train.add_argument("--test-input", help="fixed test set file (same columns); otherwise a random test split")
    train.add_argument("--format", choices=["csv", "tsv", "fasta"], help="input format (default: from extension)")
    train.add_argument("--no-header", action="store_true", help="the table has no header line")
    train.add_argument("--column-names", help="comma-separated names for a headerless table")
    train.add_argument("--sequence-column", help="column holding sequences")
    train.add_argument("--target-column", help="column holding targets (for FASTA: the header key, e.g. label)")
    train.add_argument("--id-column", help="column holding record ids (default: row numbers)")
    train.add_argument("--split-column", help="column with train/valid/test values (default: random split)")
    train.add_argument("--alphabet", choices=["protein", "dna", "rna"], help="sequence alphabet")
    train.add_argument("--ambiguous", choices=["error", "zero", "uniform"], default="error",
                       help="policy for ambiguity codes such as N or X (default: error)")
    train.add_argument("--task-type", choices=TASK_TYPES, default="regression", help="default: regression")
    train.add_argument("--classes", help="comma-separated class labels in index order (classification)")
    train.add_argument("--metric", choices=metric_names(),
                       help="main metric (default: spearman / accuracy)")
    train.add_argument("--max-length", type=int, help="reject sequences longer than this")
    train.add_argument("--valid-fraction", type=float, default=0.15, help="validation fraction (default 0.15)")
    train.add_argument("--test-fraction", type=float, default=0.15,
                       help="test fraction for a random split (default 0.15)")
    train.add_argument("--target-log-offset", type=float,
                       help="train on log(y + offset) (heavy-tailed targets); predictions are mapped back")
    train.add_argument("--model", choices=list(MODELS), default="lyra",
                       help="model to train (default lyra; the others are baselines)")
    train.add_argument("--model-option", action="append", metavar="KEY=VALUE",
                       help="model constructor option, e.g. d_model=32 (repeatable)")
    train.add_argument("--epochs", type=int, help="maximum epochs (default 30)")
    train.add_argument("--batch-size", type=int, help="batch size (default 128)")
    train.add_argument("--lr", type=float, help="learning rate (default 1e-3)")
    train.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0.01)")
    train.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 10)")
    train.add_argument("--fold", type=int, help="train only this fold of a k-fold task")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--device", help="torch device, e.g. cpu or cuda:1 (default: a free GPU, else cpu)")
    train.add_argument("--out-dir", required=True, help="output directory")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train)

    predict = sub.add_parser("predict", help="predict new sequences with a trained model.pt",
                             description="Predict sequences from a CSV/TSV or FASTA file with a trained model.")
    predict.add_argument("--model", required=True, help="model.pt written by lyra train")
    predict.add_argument("--input", required=True, help="sequences (CSV/TSV with --sequence-column, or FASTA)")
    predict.add_argument("--format", choices=["csv", "tsv", "fasta"], help="input format (default: from extension)")
    predict.add_argument("--no-header", action="store_true", help="the table has no header line")
    predict.add_argument("--column-names", help="comma-separated names for a headerless table")
    predict.add_argument("--sequence-column", default="sequence", help="column holding sequences (default sequence)")
    predict.add_argument("--id-column", help="column holding ids (default: row numbers)")
    predict.add_argument("--device", help="torch device (default: a free GPU, else cpu)")
    predict.add_argument("--out", required=True, help="output predictions TSV")
    predict.set_defaults(func=_cmd_predict)

    evaluate = sub.add_parser("evaluate", help="metrics with bootstrap CI from a predictions TSV",
                              description="Compute metrics per split (and per fold) from a lyra predictions.tsv.")
    evaluate.add_argument("--predictions", required=True, help="predictions.tsv (id, sequence, split, fold, y_true, y_pred)")
    evaluate.add_argument("--task-type", choices=TASK_TYPES, required=True, help="regression, binary or multiclass")
    evaluate.add_argument("--metric", help="main metric (default: spearman / accuracy)")
    evaluate.add_argument("--classes", help="comma-separated class labels (classification; prob_<class> columns)")
    evaluate.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CI (default 1000)")
    evaluate.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    evaluate.add_argument("--out", required=True, help="output metrics JSON")
    evaluate.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lyra`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    try:
        args.func(args)
    except (LyraInputError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
        report_input_error(error, prefix=f"lyra {args.command}: error")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
