"""Readers on small inline files and on the real datasets in ../shared/data."""

import gzip
from pathlib import Path

import pandas as pd
import pytest

from lyra.config import TrainerConfig, task_from_config
from lyra.data.records import load_records
from lyra.errors import LyraInputError
from lyra.io import read_bed_regions, read_fasta, read_table, table_line

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared datasets not found at {SHARED}")


def test_read_table_line_numbers_and_headers(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text('a\t"b\r\n c"\n1\t2\n3\t4\n')
    table = read_table(path)
    assert list(table.columns) == ["a", "b c"]
    assert table_line(table, 1) == 4  # quoted newline in the header shifts lines by one


def test_fasta_header_fields_and_gzip(tmp_path):
    path = tmp_path / "x.fa.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(">s1 TARGET=0.5 SET=train VALIDATION=True extra words\nMK\nLV\n>s2 TARGET=1\nMA\n")
    table = read_fasta(path)
    assert table["sequence"].tolist() == ["MKLV", "MA"]
    assert table["TARGET"].tolist() == ["0.5", "1"]
    assert table["SET"].tolist()[0] == "train" and pd.isna(table["SET"].tolist()[1])
    assert table["line"].tolist() == [1, 4]


def test_fasta_duplicate_ids(tmp_path):
    path = tmp_path / "d.fa"
    path.write_text(">a\nAC\n>a\nGT\n")
    with pytest.raises(LyraInputError, match="d.fa: record 'a' \\(line 3\\): duplicate id 'a'"):
        read_fasta(path)


@needs_shared
def test_kim2019_headers_normalise_alike():
    folder = SHARED / "crispr_sgrna_modeler" / "extracted"
    train = read_table(folder / "Kim_2019_Train.csv")  # BOM + CR-only line ends
    test = read_table(folder / "Kim_2019_Test.csv")  # CRLF, \r inside quoted headers
    assert (len(train), len(test)) == (12832, 542)
    assert "Background subtracted indel (%)" in train.columns
    assert "Background subtracted indel frequencies (average, %)" in test.columns
    shared_columns = set(train.columns) & set(test.columns)
    assert "Target context sequence (4+20+3+3)" in shared_columns
    assert all("\r" not in c and "\n" not in c for c in list(train.columns) + list(test.columns))


@needs_shared
def test_kim2019_files_split_loads():
    task = {"input": {"format": "csv", "files": {
        "train": "crispr_sgrna_modeler/extracted/Kim_2019_Train.csv",
        "test": "crispr_sgrna_modeler/extracted/Kim_2019_Test.csv"}},
        "columns": {"sequence": "Target context sequence (4+20+3+3)", "target": "Background subtracted indel (%)"},
        "alphabet": "dna", "task_type": "regression", "split": {"scheme": "files"}}
    with pytest.raises(LyraInputError, match="Kim_2019_Test.csv: task 'kim', key columns.target"):
        load_records(task_from_config({"tasks": {"kim": task}}, "kim"), SHARED)


@needs_shared
def test_splice_csv_and_fasta_agree():
    raw = pd.read_csv(SHARED / "rna_splice_junction_uci" / "splice_junction_uci.csv")
    config = {"tasks": {"splice": {
        "input": {"format": "fasta", "path": "rna_splice_junction_uci/splice_junction_uci.fasta",
                  "fasta_label_key": "label"},
        "alphabet": "dna", "task_type": "multiclass", "classes": ["n", "ei", "ie"],
        "split": {"scheme": "random", "fractions": [0.7, 0.1, 0.2]}}}}
    task = task_from_config(config, "splice")
    records = load_records(task, SHARED)
    assert len(records) == 3186
    expected = raw["label"].map({"n": 0, "ei": 1, "ie": 2})
    assert records["target"].tolist() == expected.tolist()
    assert records["sequence"].tolist() == raw["sequence"].tolist()
    csv_task = task.replace(input={"format": "csv", "path": "rna_splice_junction_uci/splice_junction_uci.csv"},
                            columns={"id": "id", "sequence": "sequence", "target": "label"})
    from_csv = load_records(csv_task, SHARED)
    pd.testing.assert_frame_equal(from_csv, records)


@needs_shared
def test_bed_extraction_equals_reference_fasta():
    folder = SHARED / "ecoli_genome_promoters"
    regions = read_bed_regions(folder / "ecocyc_promoters_vs_background.bed", folder / "NC_000913.3.fa")
    expected = read_fasta(folder / "ecocyc_promoters_vs_background.fa")
    assert len(regions) == len(expected) == 4004
    merged = regions.merge(expected, on="id", suffixes=("", "_fa"), validate="one_to_one")
    assert len(merged) == 4004
    assert (merged["sequence"] == merged["sequence_fa"]).all()
    assert (merged["label"] == merged["label_fa"]).all()


@needs_shared
def test_flip_validation_tristate():
    csv = pd.read_csv(SHARED / "flip_gb1" / "splits" / "three_vs_rest.csv")
    task = {"input": {"format": "csv", "path": "flip_gb1/splits/three_vs_rest.csv"},
            "columns": {"sequence": "sequence", "target": "target"}, "alphabet": "protein",
            "task_type": "regression",
            "split": {"scheme": "column", "column": "set", "valid_column": "validation"}}
    records = load_records(task_from_config({"tasks": {"flip": task}}, "flip"), SHARED)
    fasta_task = {"input": {"format": "fasta", "path": "flip_gb1/splits/three_vs_rest.fasta",
                            "fasta_label_key": "TARGET"},
                  "alphabet": "protein", "task_type": "regression",
                  "split": {"scheme": "column", "column": "SET", "valid_column": "VALIDATION"}}
    from_fasta = load_records(task_from_config({"tasks": {"flip_fa": fasta_task}}, "flip_fa"), SHARED)
    expected = csv["set"].where(~(csv["validation"] == True), "valid")  # noqa: E712
    assert records["split"].tolist() == expected.tolist()
    assert from_fasta["split"].tolist() == expected.tolist()
    assert records["split"].value_counts().to_dict() == {"test": 5743, "train": 2990 - 299, "valid": 299}


def test_doc_examples_validate_and_resolve_with_defaults():
    import re

    import yaml

    doc = (Path(__file__).resolve().parents[1] / "docs" / "task-config.md").read_text()
    tasks = {}
    for block in re.findall(r"```yaml\n(.*?)```", doc, re.S):
        tasks.update(yaml.safe_load(block))
    config = {"model": {"d_model": 64, "d_state": 8}, "trainer": {"epochs": 3}, "seed": 7, "tasks": tasks}
    config["tasks"]["splice"]["model"] = {"d_model": 32}
    task = task_from_config(config, "splice")
    assert task.model == {"d_model": 32, "d_state": 8, "dropout": 0.2, "position_aware": "auto"} and task.trainer == TrainerConfig.from_dict({"epochs": 3, "seed": 7})
    assert (task.seed, task.ambiguous, task.split["valid_fraction"], task.name) == (7, "error", 0.15, "splice")
    config["tasks"]["splice"]["alphabett"] = "dna"
    with pytest.raises(LyraInputError, match="key tasks.splice.*alphabett"):
        task_from_config(config, "splice")
