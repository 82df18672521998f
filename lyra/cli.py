"""The ``lyra`` command: train, predict, evaluate, and score mutants outside Snakemake.

    lyra train    --input data.csv --sequence-column seq --target-column y --alphabet protein --out-dir run/
    lyra predict  --model run/model.pt --input new.fasta --out predictions.tsv
    lyra evaluate --predictions run/predictions.tsv --task-type regression --out metrics.json
    lyra mutagenesis   --model run/ --sequence MTYK... --out ism.tsv
    lyra score-variants --model run/ --reference MTYK... --variants variants.csv --out scores.tsv --top 10
    lyra results-page  --summary results/summary.tsv --out docs/results.md
    lyra design   --model run/ --reference MTYK... --sites V40,D41 --acquisition thompson --batch-size 96 --out next.tsv

``--model`` is repeatable and takes a directory of fold models: several models predict as
an ensemble (mean, and the std across members as the uncertainty).

A task from a workflow config can be trained as it is: ``lyra train --config config/config.yaml
--task gb1_relso --out-dir run/``. Input errors print one line naming the file, the
record and the problem, and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

import pandas as pd
import yaml

from lyra.config import (MODELS, Task, TrainerConfig, default_metric, load_schema, metric_names, task_default,
                         task_from_config)
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
        "split": {"seed": args.seed},
    }
    if args.metric:
        task["metric"] = args.metric
    if args.valid_fraction is not None:
        task["split"]["valid_fraction"] = args.valid_fraction
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
            task["split"].update(scheme="random", fractions=_fractions(args.valid_fraction, args.test_fraction))
    if args.target_log_offset is not None:
        task["target_transform"] = {"name": "log", "offset": args.target_log_offset}
    task["model"] = _key_values(args.model_option)
    task["trainer"] = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                                         "weight_decay": args.weight_decay, "patience": args.patience,
                                         "seed": args.seed}.items() if v is not None}
    task["seed"] = args.seed
    # named after the file (records without an id column are <name>_<row>), as a config task name may be
    name = re.sub(r"[^A-Za-z0-9_-]", "_", Path(args.input).name.split(".")[0]) or "task"
    return task_from_config({"tasks": {name: task}}, name, source="command line"), Path("/")


def _fractions(valid: float | None, test: float | None) -> list[float]:
    """[train, valid, test] shares of a random split: the flags given, the config default for the rest."""
    default = task_default("split", "fractions")
    valid = default[1] if valid is None else valid
    test = default[2] if test is None else test
    return [1 - valid - test, valid, test]


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
    from lyra.data import splits
    from lyra.data.records import input_paths, load_records
    from lyra.io.provenance import collect
    from lyra.results import evaluate_task, read_predictions, write_json
    from lyra.models.fold import train_fold

    if args.config:
        if not args.task:
            raise ValueError("--config needs --task NAME")
        with open(args.config) as handle:
            config = yaml.safe_load(handle)
        task = task_from_config(config, args.task, source=args.config)
        data_root = Path(task.data_root or config.get("data_root") or load_schema()["properties"]["data_root"]["default"])
    else:
        if not (args.input and args.sequence_column and args.target_column and args.alphabet):
            raise ValueError("train needs --input, --sequence-column, --target-column and --alphabet (or --config/--task)")
        task, data_root = _task_from_flags(args)
    out_dir = Path(args.out_dir)
    records = load_records(task, data_root)
    prepared = splits.assign(records, task.split, task.name)
    folds = range(splits.n_folds(prepared)) if args.fold is None else [args.fold]
    prediction_files, runs = [], []
    for fold in folds:
        fold_dir = out_dir / f"fold{fold}" if len(folds) > 1 or args.fold is not None else out_dir
        summary = train_fold(prepared, task, fold, fold_dir, args.model, args.device, progress=not args.quiet)
        write_json(summary, fold_dir / "train.json")
        runs.append(summary)
        prediction_files.append(fold_dir / "predictions.tsv")
    metrics = {"task": task.name, "model": args.model, **evaluate_task(read_predictions(*prediction_files), task),
               "folds": runs}
    metrics["provenance"] = collect(input_paths(task, data_root), task.to_dict(), seed=task.seed,
                                    device=", ".join(sorted({str(run["device"]) for run in runs})),
                                    wall_time_s=sum(run["train_seconds"] for run in runs))
    write_json(metrics, out_dir / "metrics.json")
    print(_headline(metrics))


def _read_sequences(path: str, fmt: str | None, no_header: bool = False, column_names: str | None = None,
                    sequence_column: str = "sequence",
                    id_column: str | None = None) -> tuple[list[str], list[str], list[str]]:
    """(ids, sequences, locations) of a FASTA or CSV/TSV file: ids are row numbers when a
    table has none; a location names the line (and the record) as ``lyra train`` does."""
    from lyra.io import read_fasta, read_table
    from lyra.io.tables import table_line

    fmt = fmt or _format_from_suffix(path)
    if fmt == "fasta":
        table = read_fasta(path)
        ids = table["id"].astype(str).tolist()
        return ids, table["sequence"].astype(str).tolist(), [f"record '{i}' (line {n})" for i, n in
                                                              zip(ids, table["line"])]
    table = read_table(path, sep="," if fmt == "csv" else "\t", header=not no_header,
                       column_names=column_names.split(",") if column_names else None)
    for column in (sequence_column, id_column):
        if column and column not in table.columns:
            raise LyraInputError(path, "header", f"no column '{column}'; columns: {', '.join(map(str, table.columns))}")
    ids = table[id_column].astype(str) if id_column else pd.Series(range(len(table))).astype(str)
    locations = [f"line {table_line(table, i)}" for i in table.index]
    return ids.tolist(), table[sequence_column].astype(str).tolist(), locations


def _cmd_predict(args: argparse.Namespace) -> None:
    from lyra.data.encode import normalise_sequences
    from lyra.analysis.ensemble import load_ensemble, prediction_table
    from lyra.results import write_predictions

    ensemble = load_ensemble(args.model)
    sequence_column = args.sequence_column or ensemble.sequence_column or "sequence"
    ids, sequences, locations = _read_sequences(args.input, args.format, args.no_header, args.column_names,
                                                sequence_column, args.id_column)
    normalised, _ = normalise_sequences(sequences, ids, ensemble.alphabet, ensemble.ambiguous,
                                        t_as_u=ensemble.t_as_u, source=str(args.input), locations=locations,
                                        **ensemble.input_rules)
    frame = prediction_table(ensemble.predict(normalised, device=args.device, ids=ids))
    frame.insert(0, "sequence", normalised)
    frame.insert(0, "id", ids)
    if ensemble.classes:
        frame["y_pred_label"] = [ensemble.classes[i] for i in frame["y_pred"]]
    write_predictions(frame, args.out)
    print(f"wrote {len(frame)} predictions ({len(ensemble)} model(s)) to {args.out}")


def _references(args: argparse.Namespace, ensemble) -> list[tuple[str, str]]:
    """(id, normalised sequence) of each reference named by --sequence or --fasta."""
    from lyra.analysis.mutagenesis import normalise_reference

    if args.sequence:
        return [(args.id, normalise_reference(args.sequence, ensemble, "--sequence", args.id))]
    ids, sequences, _ = _read_sequences(args.fasta, "fasta")
    return [(i, normalise_reference(s, ensemble, args.fasta, i)) for i, s in zip(ids, sequences)]


def _cmd_mutagenesis(args: argparse.Namespace) -> None:
    from lyra.analysis.ensemble import load_ensemble
    from lyra.analysis.mutagenesis import write_mutagenesis

    ensemble = load_ensemble(args.model)
    references = _references(args, ensemble)
    table = write_mutagenesis(ensemble, references, args.out, args.heatmap, args.include_wild_type, args.score_class,
                              args.device, args.row_length)
    print(f"wrote {len(table)} substitutions of {len(references)} reference(s) to {args.out}")


def _one_reference(reference: str, ensemble) -> str:
    """``--reference``: a sequence, or a FASTA file's first record, normalised as the model's inputs."""
    from lyra.analysis.mutagenesis import normalise_reference

    if Path(reference).is_file():
        reference = _read_sequences(reference, "fasta")[1][0]
    return normalise_reference(reference, ensemble, "--reference")


def _cmd_score_variants(args: argparse.Namespace) -> None:
    from lyra.analysis.ensemble import load_ensemble
    from lyra.results import write_table
    from lyra.analysis.variants import design_shortlist, read_variants, score_variants

    ensemble = load_ensemble(args.model)
    reference = _one_reference(args.reference, ensemble)
    variants = read_variants(args.variants, reference, ensemble.alphabet)
    scores = score_variants(ensemble, reference, variants, args.score_class, args.device)
    write_table(scores, args.out)
    print(f"wrote {len(scores)} variant scores to {args.out}")
    if args.top:
        shortlist = design_shortlist(ensemble, reference, args.top, args.max_order, args.pool, set(variants),
                                     args.minimize, args.score_class, args.device)
        out = Path(args.top_out) if args.top_out else Path(args.out).with_suffix(".top.tsv")
        write_table(shortlist, out)
        print(f"wrote the {len(shortlist)} best-scoring unseen variants to {out}")


def _cmd_design(args: argparse.Namespace) -> None:
    from lyra.analysis.design import design_batch, parse_sites, singles_and_combinations, site_combinations
    from lyra.analysis.ensemble import load_ensemble
    from lyra.results import write_table
    from lyra.analysis.variants import read_variants

    ensemble = load_ensemble(args.model)
    reference = _one_reference(args.reference, ensemble)
    if args.sites:
        candidates = site_combinations(parse_sites(args.sites.split(","), reference, ensemble.alphabet),
                                       ensemble.alphabet)
    elif args.candidates:
        candidates = read_variants(args.candidates, reference, ensemble.alphabet)
    else:
        candidates = singles_and_combinations(ensemble, reference, args.max_order, args.pool, args.score_class,
                                              args.device)
    measured = set(read_variants(args.measured, reference, ensemble.alphabet)) if args.measured else set()
    batch = design_batch(ensemble, reference, candidates, measured, args.batch_size, args.acquisition, args.beta,
                         args.seed, args.max_per_mutation, args.score_class, args.device)
    write_table(batch, args.out)
    print(f"wrote {len(batch)} proposals ({args.acquisition}, {len(ensemble)} model(s)) to {args.out}")


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
    metric = args.metric or default_metric(args.task_type)
    classes = args.classes.split(",") if args.classes else None
    metrics = evaluate_predictions(frame, args.task_type, metric, classes, n_boot=args.n_boot, seed=args.seed,
                                   source=args.predictions)
    write_json(metrics, args.out)
    print(_headline(metrics))


def _cmd_results_page(args: argparse.Namespace) -> None:
    from lyra.report.results_page import write_results_page

    write_results_page(args.summary, args.out, args.results_dir)
    print(f"wrote {args.out} from {args.summary}")


def _headline(metrics: dict) -> str:
    """One line with the main test metric."""
    test = metrics.get("splits", {}).get("test", {})
    name = metrics.get("metric", "metric")
    value = test.get("value", {})
    if value.get("undefined", True):
        return f"test {name} = undefined ({value.get('reason', 'no value')}; n = {test.get('n', 0)})"
    ci = test.get("ci") or {}
    interval = (f", {ci.get('level', 0.95):.0%} CI [{ci['low']:.4f}, {ci['high']:.4f}]"
                if ci.get("low") is not None and ci.get("high") is not None else "")
    return f"test {name} = {value['value']:.4f}{interval} (n = {test.get('n', 0)})"


def _model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, action="append",
                        help="model.pt written by lyra train, or a directory of them (e.g. results/<task>/<model>/ "
                             "with fold*/model.pt); repeat for an ensemble")


def _score_class_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score-class", help="classification: the class whose probability is the score "
                        "(default: the last class, the positive one of a binary task)")


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
                       help="main metric (default: spearman for regression, accuracy for classification)")
    train.add_argument("--max-length", type=int, help="reject sequences longer than this")
    train.add_argument("--valid-fraction", type=float,
                       help="validation fraction (default: 0.1 of a random split, 0.15 of the train rows otherwise)")
    train.add_argument("--test-fraction", type=float, help="test fraction of a random split (default 0.1)")
    train.add_argument("--target-log-offset", type=float,
                       help="train on log(y + offset) (heavy-tailed targets); predictions are mapped back")
    train.add_argument("--model", choices=list(MODELS), default="lyra",
                       help="model to train (default lyra; the others are baselines)")
    train.add_argument("--model-option", action="append", metavar="KEY=VALUE",
                       help="model constructor option, e.g. d_model=32 (repeatable)")
    train.add_argument("--epochs", type=int, help=f"maximum epochs (default {TrainerConfig.epochs})")
    train.add_argument("--batch-size", type=int, help=f"batch size (default {TrainerConfig.batch_size})")
    train.add_argument("--lr", type=float, help=f"learning rate (default {TrainerConfig.lr})")
    train.add_argument("--weight-decay", type=float, help=f"AdamW weight decay (default {TrainerConfig.weight_decay})")
    train.add_argument("--patience", type=int, help=f"early-stopping patience in epochs (default {TrainerConfig.patience})")
    train.add_argument("--fold", type=int, help="train only this fold of a k-fold task")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--device", help="torch device, e.g. cpu or cuda:1 (default: a free GPU, else cpu)")
    train.add_argument("--out-dir", required=True, help="output directory")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train)

    predict = sub.add_parser("predict", help="predict new sequences with a trained model.pt or an ensemble",
                             description="Predict sequences from a CSV/TSV or FASTA file with one trained model or "
                                         "an ensemble: the mean, the std across members and each member's prediction.")
    _model_argument(predict)
    predict.add_argument("--input", required=True, help="sequences (CSV/TSV with --sequence-column, or FASTA)")
    predict.add_argument("--format", choices=["csv", "tsv", "fasta"], help="input format (default: from extension)")
    predict.add_argument("--no-header", action="store_true", help="the table has no header line")
    predict.add_argument("--column-names", help="comma-separated names for a headerless table")
    predict.add_argument("--sequence-column", help="column holding sequences (default: the training file's "
                         "sequence column, else sequence)")
    predict.add_argument("--id-column", help="column holding ids (default: row numbers)")
    predict.add_argument("--device", help="torch device (default: a free GPU, else cpu)")
    predict.add_argument("--out", required=True, help="output predictions TSV")
    predict.set_defaults(func=_cmd_predict)

    ism = sub.add_parser("mutagenesis", help="in-silico saturation mutagenesis of reference sequences",
                         description="Score every single substitution of each reference with a model or an "
                                     "ensemble; writes a tidy TSV (reference_id, position, wt, mut, score, effect, "
                                     "std, effect_std) and a heatmap PNG of the effects.")
    _model_argument(ism)
    which = ism.add_mutually_exclusive_group(required=True)
    which.add_argument("--sequence", help="the reference sequence")
    which.add_argument("--fasta", help="FASTA file of reference sequences (each one is mutated)")
    ism.add_argument("--id", default="reference", help="reference id for --sequence (default reference)")
    ism.add_argument("--include-wild-type", action="store_true",
                     help="also score the wild-type letter at each position (every position x letter; effect 0)")
    _score_class_argument(ism)
    ism.add_argument("--device", help="torch device (default: a free GPU, else cpu)")
    ism.add_argument("--out", required=True, help="output TSV")
    ism.add_argument("--heatmap", help="heatmap PNG (default: --out with .png; <stem>.<id>.png per reference "
                     "for several)")
    ism.add_argument("--row-length", type=int, default=100, help="positions per heatmap row (default 100)")
    ism.set_defaults(func=_cmd_mutagenesis)

    score = sub.add_parser("score-variants", help="score variants such as A23G or A23G:V39W against a reference",
                           description="Score variant strings (1-based, wild type checked against the reference) "
                                       "with a model or an ensemble; --top adds a design shortlist of the "
                                       "best-scoring variants not in the file.")
    _model_argument(score)
    score.add_argument("--reference", required=True, help="reference sequence (or a FASTA file: its first record)")
    score.add_argument("--variants", required=True,
                       help="CSV/TSV with a 'variant' (or 'mutant') column, or a text file with one variant per line")
    _score_class_argument(score)
    score.add_argument("--device", help="torch device (default: a free GPU, else cpu)")
    score.add_argument("--out", required=True, help="output TSV (variant, n_mutations, score, std, effect, effect_std)")
    score.add_argument("--top", type=int, help="also rank the K best-scoring variants not in --variants")
    score.add_argument("--max-order", type=int, default=1,
                       help="shortlist: combine up to this many of the best singles (default 1: singles only)")
    score.add_argument("--pool", type=int, default=20, help="shortlist: best singles that combinations draw from "
                       "(default 20)")
    score.add_argument("--minimize", action="store_true", help="shortlist: lower scores are better")
    score.add_argument("--top-out", help="shortlist TSV (default: --out with .top.tsv)")
    score.set_defaults(func=_cmd_score_variants)

    design = sub.add_parser("design", help="propose the next batch of variants to measure",
                            description="Choose the next batch from a candidate space with an ensemble and an "
                                        "acquisition (greedy mean, UCB, Thompson sampling over members); measured "
                                        "variants are left out. Writes rank, variant, n_mutations, mean, std, "
                                        "acquisition, member (Thompson: the member drawn).")
    _model_argument(design)
    design.add_argument("--reference", required=True, help="reference sequence (or a FASTA file: its first record)")
    space = design.add_mutually_exclusive_group()
    space.add_argument("--sites", help="every letter combination at these sites, e.g. V40,D41,G42,V55 "
                       "(wild-type letter and 1-based position)")
    space.add_argument("--candidates", help="CSV/TSV with a 'variant' column, or one variant per line")
    design.add_argument("--max-order", type=int, default=2, help="without --sites/--candidates: every single plus "
                        "combinations of up to this many of the best singles (default 2)")
    design.add_argument("--pool", type=int, default=20, help="best singles that combinations draw from (default 20)")
    design.add_argument("--measured", help="variants already measured (same formats as --candidates): never proposed")
    design.add_argument("--acquisition", choices=["greedy", "ucb", "thompson"], default="thompson",
                        help="default thompson")
    design.add_argument("--beta", type=float, default=2.0, help="UCB: mean + beta x std (default 2)")
    design.add_argument("--batch-size", type=int, required=True, help="variants to propose")
    design.add_argument("--max-per-mutation", type=int, help="propose each mutation (site-letter) at most this often")
    design.add_argument("--seed", type=int, default=0, help="Thompson draws (default 0)")
    _score_class_argument(design)
    design.add_argument("--device", help="torch device (default: a free GPU, else cpu)")
    design.add_argument("--out", required=True, help="output TSV")
    design.set_defaults(func=_cmd_design)

    evaluate = sub.add_parser("evaluate", help="metrics with bootstrap CI from a predictions TSV",
                              description="Compute metrics per split (and per fold) from a lyra predictions.tsv.")
    evaluate.add_argument("--predictions", required=True, help="predictions.tsv (id, sequence, split, fold, y_true, y_pred)")
    evaluate.add_argument("--task-type", choices=TASK_TYPES, required=True, help="regression, binary or multiclass")
    evaluate.add_argument("--metric", choices=metric_names(),
                          help="main metric (default: spearman for regression, accuracy for classification)")
    evaluate.add_argument("--classes", help="comma-separated class labels (classification; prob_<class> columns)")
    evaluate.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CI (default 1000)")
    evaluate.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    evaluate.add_argument("--out", required=True, help="output metrics JSON")
    evaluate.set_defaults(func=_cmd_evaluate)

    page = sub.add_parser("results-page", help="the results page (Markdown) from a run's results/summary.tsv",
                          description="Write docs/results.md from a workflow run's summary table, stamped with the "
                                      "run's commit, dates, machine and job time; every model column is shown.")
    page.add_argument("--summary", default="results/summary.tsv", help="summary table (default results/summary.tsv)")
    page.add_argument("--results-dir", help="the run's results folder (default: the summary's folder)")
    page.add_argument("--out", default="docs/results.md", help="output Markdown (default docs/results.md)")
    page.set_defaults(func=_cmd_results_page)
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
