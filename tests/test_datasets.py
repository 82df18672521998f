"""The default config's datasets on small slices, one test per input kind, plus the
published-numbers table and the summary it feeds.

- CSV with quirks: Kim 2019 train (UTF-8 BOM, CR-only line ends, header names with
  embedded CRs) and test (CRLF, the target column named differently: a per-file
  ``columns`` override), with the guides the two files share;
- FASTA with labels in the headers (splice junctions), checked against the CSV copy;
- BED + genome FASTA (E. coli promoters), checked against the provided extraction.

Expected values come from the raw bytes and the csv module, not from our readers.
"""

import csv
import io
import random
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import spearmanr

from lyra.report import summary as summary_module
from lyra.config import load_schema, task_from_config
from lyra.data.records import load_records
from lyra.errors import LyraInputError
from lyra.metrics import evaluate_predictions
from lyra.data.splits import assign, leakage_report, overlapping_regions

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
PUBLISHED = yaml.safe_load((REPO / "config" / "published.yaml").read_text())
KIM = DATA / "crispr_sgrna_modeler" / "extracted"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} is absent")


def _task(name: str, **changes):
    """A default-config task, resolved, with top-level keys replaced."""
    return task_from_config(CONFIG, name).replace(**changes)


def _header_end(raw: bytes) -> int:
    """Offset just past the header record: the first line break outside double quotes."""
    quoted = False
    for i, byte in enumerate(raw):
        if byte == ord('"'):
            quoted = not quoted
        elif not quoted and byte in b"\r\n":
            return i + (2 if raw[i : i + 2] == b"\r\n" else 1)
    raise ValueError("no header line end")


def _slice(raw: bytes, newline: bytes, keep) -> bytes:
    """The header and the data lines for which ``keep(line)`` is true, bytes unchanged."""
    end = _header_end(raw)
    lines = raw[end:].split(newline)
    return raw[:end] + b"".join(line + newline for line in lines if line and keep(line))


def _parse(raw: bytes) -> list[dict]:
    """Rows of a CSV via the csv module, header names with whitespace runs collapsed."""
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    header = [" ".join(name.split()) for name in next(reader)]
    return [dict(zip(header, row)) for row in reader]


@needs_data
def test_kim2019_csv_quirks_and_per_file_target_columns(tmp_path):
    train_raw = (KIM / "Kim_2019_Train.csv").read_bytes()
    test_raw = (KIM / "Kim_2019_Test.csv").read_bytes()
    test_slice = _slice(test_raw, b"\r\n", lambda line: True)[: _header_end(test_raw) + 40 * 60]
    test_slice = test_slice[: test_slice.rfind(b"\r\n") + 2]  # whole lines only
    test_rows = _parse(test_slice)
    sequence = "Target context sequence (4+20+3+3)"
    test_guides = {row[sequence].encode() for row in test_rows}
    train_slice = _slice(train_raw, b"\r", lambda line: random.Random(line).random() < 0.02
                         or any(guide in line for guide in test_guides))
    # the slices keep the quirks the loader must handle
    assert train_slice.startswith(b"\xef\xbb\xbf") and b"\n" not in train_slice
    assert b"\r" in train_slice[: _header_end(train_slice) - 1]  # a CR inside a quoted header name
    assert test_slice.count(b"\r\n") == len(test_rows) + 1
    (tmp_path / "train.csv").write_bytes(train_slice)
    (tmp_path / "test.csv").write_bytes(test_slice)
    train_rows = _parse(train_slice)

    task = _task("crispr_kim2019")
    task.input["files"]["train"] = "train.csv"
    task.input["files"]["test"]["path"] = "test.csv"
    records = load_records(task, tmp_path)

    target_test = "Background subtracted indel frequencies (average, %)"
    expected = [(r[sequence], float(r["Background subtracted indel (%)"]), "train") for r in train_rows]
    expected += [(r[sequence], float(r[target_test]), "test") for r in test_rows]
    assert list(zip(records["sequence"], records["split"])) == [(seq, split) for seq, _, split in expected]
    assert records["target"].tolist() == pytest.approx([target for _, target, _ in expected])

    shared = sum(row[sequence] in {r[sequence] for r in train_rows} for row in test_rows)
    assert shared >= 1
    leakage = leakage_report(assign(records, task.split, task.name), task.split)["folds"]["0"]
    assert leakage["test_rows_seen_in_training"] == shared

    # without the override the test file's target column is missing, and the error says where
    del task.input["files"]["test"]["columns"]
    with pytest.raises(LyraInputError, match="test.csv.*Background subtracted indel \\(%\\)"):
        load_records(task, tmp_path)


@needs_data
def test_fasta_labels_in_headers_match_the_csv_copy(tmp_path):
    source = DATA / "rna_splice_junction_uci"
    lines = (source / "splice_junction_uci.fasta").read_text().splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith(">")]
    (tmp_path / "slice.fasta").write_text("".join(lines[: starts[80]]))
    task = _task("splice_uci", input={"format": "fasta", "path": "slice.fasta", "fasta_label_key": "label"},
                 split={"scheme": "random", "fractions": [0.8, 0.1, 0.1], "seed": 0})
    records = load_records(task, tmp_path)

    table = pd.read_csv(source / "splice_junction_uci.csv").iloc[:80]
    assert records["id"].tolist() == table["id"].tolist()
    assert records["sequence"].tolist() == table["sequence"].tolist()
    assert records["target"].tolist() == table["label"].map(["n", "ei", "ie"].index).tolist()


def _read_fasta_text(path: Path) -> dict[str, str]:
    sequences, name = {}, None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            sequences[name] = ""
        else:
            sequences[name] += line.strip()
    return sequences


@needs_data
def test_bed_regions_match_the_provided_extraction(tmp_path):
    source = DATA / "ecoli_genome_promoters"
    bed_lines = (source / "ecocyc_promoters_vs_background.bed").read_text().splitlines(keepends=True)
    picked = bed_lines[:30] + bed_lines[-30:]  # promoters and background windows, both strands
    (tmp_path / "slice.bed").write_text("".join(picked))
    task = _task("ecoli_genome_promoter")
    task = task.replace(input={**task.input, "path": "slice.bed", "genome": str(source / "NC_000913.3.fa")})
    records = load_records(task, tmp_path)

    expected = _read_fasta_text(source / "ecocyc_promoters_vs_background.fa")
    assert set(records["strand"]) == {"+", "-"}
    assert records["sequence"].tolist() == [expected[i] for i in records["id"]]
    assert records["target"].tolist() == [int(line.split("\t")[6]) for line in picked]

    prepared = assign(records, task.split, task.name)
    test = prepared["split"].to_numpy() == "test"
    order = np.lexsort((records["start"].to_numpy(), records["chrom"].to_numpy()))
    assert set(order[-round(0.1 * len(records)):]) == set(np.flatnonzero(test))  # the last block by position
    report = leakage_report(prepared, task.split, records[["id", "chrom", "start", "end"]])
    assert report["folds"]["0"]["test_regions_overlapping_training"] == _brute_overlaps(records, test)


def _brute_overlaps(regions: pd.DataFrame, is_test: np.ndarray) -> int:
    rows = regions[["chrom", "start", "end"]].to_numpy()
    return sum(
        any(rows[j][0] == rows[i][0] and rows[j][1] < rows[i][2] and rows[i][1] < rows[j][2]
            for j in np.flatnonzero(~is_test))
        for i in np.flatnonzero(is_test)
    )


def test_overlapping_regions_agrees_with_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = 40
        regions = pd.DataFrame({"chrom": rng.choice(["a", "b"], n), "start": rng.integers(0, 500, n)})
        regions["end"] = regions["start"] + rng.integers(1, 60, n)
        is_test = rng.random(n) < 0.3
        assert overlapping_regions(regions, is_test) == _brute_overlaps(regions, is_test)


def test_every_default_task_resolves_and_the_published_table_matches_them():
    jsonschema.validate(PUBLISHED, load_schema("published"))
    tasks = {name: task_from_config(CONFIG, name) for name in CONFIG["tasks"]}
    for name, entries in PUBLISHED["tasks"].items():
        assert name in tasks, f"published.yaml names unknown task {name}"
        external = {e["name"] for e in tasks[name].external_test}
        for entry in entries:
            assert entry.get("set", "test") in external | {"test"}, (name, entry)


def _kfold_metrics(predictions: pd.DataFrame) -> dict:
    metrics = evaluate_predictions(predictions, "regression", "spearman", n_boot=20)
    runs = [{"fold": f, "n_parameters": 100, "train_seconds": 2.0} for f in sorted(set(predictions["fold"]))]
    return {"task": "t", "model": "lyra", **metrics, "folds": runs}


def test_summary_reports_fold_means_undefined_folds_and_the_best_published_value():
    summary = summary_module
    rng = np.random.default_rng(1)
    y = rng.normal(size=60)
    folds = np.repeat([0, 1, 2], 20)
    y_pred = y + rng.normal(size=60)
    y_pred[folds == 2] = 0.5  # a constant fold: undefined, left out of the mean
    predictions = pd.DataFrame({"split": "test", "fold": folds, "y_true": y, "y_pred": y_pred})
    leakage = {"n_folds": 3, "folds": {str(f): {"test_rows_seen_in_training": 1, "duplicates_within": {"test": 0}}
                                      for f in range(3)}}
    published = {"version": 3, "tasks": {"t": [
        {"model": "A", "value": 0.4, "kind": "published", "status": "quoted", "source": "x"},
        {"model": "B", "value": 0.7, "kind": "published", "status": "verified", "source": "y"},
        {"model": "one-hot", "value": 0.1, "kind": "baseline", "status": "measured", "source": "z"},
        {"model": "C", "value": 0.9, "kind": "published", "status": "quoted", "source": "w", "metric": "pearson"},
    ]}}
    table = summary.summary_table(["t"], ["lyra"], {("t", "lyra"): _kfold_metrics(predictions)}, {},
                                  {"t": leakage}, published)
    row = table.iloc[0]
    per_fold = [spearmanr(y[folds == f], y_pred[folds == f]).statistic for f in (0, 1)]
    assert row["lyra"] == pytest.approx(np.mean(per_fold))
    assert row["lyra_pooled"] == pytest.approx(spearmanr(y, y_pred).statistic)
    assert row["lyra_undefined"].startswith("1/3 folds")
    assert (row["published_best"], row["published_best_model"], row["baseline"]) == (0.7, "B", 0.1)
    assert row["test_rows_seen_in_training"] == 3 and row["lyra_train_s"] == 6.0
    plot_rows = summary.plot_frame(table, ["lyra"])
    assert plot_rows[["task", "model"]].values.tolist() == [["t", "lyra"]]


def test_summary_headline_follows_kfold_aggregate_with_fold_values_and_every_published_number():
    rng = np.random.default_rng(2)
    rows = []
    for fold in range(3):
        for split, n in (("train", 40), ("test", 20)):
            y = rng.normal(loc=fold, size=n)
            rows.append(pd.DataFrame({"split": split, "fold": fold, "y_true": y, "y_pred": y + rng.normal(size=n)}))
    predictions = pd.concat(rows, ignore_index=True)
    metrics = evaluate_predictions(predictions, "regression", "spearman", n_boot=20, kfold_aggregate="pooled")
    runs = [{"fold": f, "n_parameters": 100, "train_seconds": 1.0} for f in range(3)]
    published = {"version": 1, "tasks": {"t": [
        {"model": "Kermut", "value": 0.8, "kind": "published", "status": "verified", "source": "x"},
        {"model": "One-Hot Encodings", "value": -0.04, "kind": "baseline", "status": "verified", "source": "x"},
    ]}}
    leakage = {"n_folds": 3, "folds": {str(f): {"test_rows_seen_in_training": 0, "duplicates_within": {"test": 0}}
                                      for f in range(3)}}
    table = summary_module.summary_table(["t"], ["lyra"], {("t", "lyra"): {"task": "t", "model": "lyra", **metrics,
                                                                           "folds": runs}},
                                         {}, {"t": leakage}, published)
    row = table.iloc[0]
    assert row["lyra_headline"] == "pooled"
    assert row["lyra"] == pytest.approx(metrics["kfold"]["pooled_zscored"]["value"]["value"])
    assert row["lyra_pooled_z"] == row["lyra"] and row["lyra_fold_mean"] == pytest.approx(metrics["kfold"]["mean"])
    assert row["lyra_per_fold"] == ";".join(f"{f['value']['value']:.3f}" for f in metrics["kfold"]["per_fold"])
    assert row["published_all"] == "Kermut 0.8; One-Hot Encodings -0.04"
