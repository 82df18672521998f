"""Every case in tests/data/bad/ is rejected with a located message; tests/data/good/ quirks are accepted."""

import os
import shutil
from pathlib import Path

import pytest
from Bio.Seq import Seq

from lyra.config import task_from_config
from lyra.data.records import load_records
from lyra.errors import LyraInputError
from lyra.data.splits import assign

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"
GOOD = DATA / "good"


def typed(entry, name="case"):
    """A task entry as the workflow builds it (schema defaults filled)."""
    return task_from_config({"tasks": {name: entry}}, name)


def table_task(path, **overrides):
    task = {
        "input": {"format": "csv", "path": path},
        "columns": {"sequence": "sequence", "target": "fitness"},
        "alphabet": "protein",
        "task_type": "regression",
        "split": {"scheme": "random", "fractions": [0.34, 0.33, 0.33]},
    }
    for key, value in overrides.items():
        task[key] = {**task[key], **value} if isinstance(value, dict) and key in task else value
    return task


def fasta_task(path):
    return {"input": {"format": "fasta", "path": path, "fasta_label_key": "label"},
            "alphabet": "dna", "task_type": "multiclass", "split": {"scheme": "random"}}


def bed_task(path, genome="genome.fa", **options):
    return {"input": {"format": "bed", "path": path, "genome": genome, **options},
            "columns": {"target": "label"}, "alphabet": "dna", "task_type": "binary",
            "split": {"scheme": "genome_blocks"}}


COLUMN_SPLIT = {"scheme": "column", "column": "set"}
GROUPED = {"columns": {"group": "locus"}}
DECODE = ["byte 0x96 is not valid UTF-8", "save the file as UTF-8"]

# (case file, task config, fragments the message must contain: file, location, problem)
CASES = [
    ("empty.csv", table_task("empty.csv"), ["empty.csv", "line 1", "empty"]),
    ("header_only.csv", table_task("header_only.csv"), ["header_only.csv", "line 2", "no data rows"]),
    ("missing_column.csv", table_task("missing_column.csv"),
     ["missing_column.csv", "task 'case'", "columns.sequence", "'sequence' not found", "seq, fitness"]),
    ("nonnumeric_target.csv", table_task("nonnumeric_target.csv"), ["nonnumeric_target.csv", "line 3", "'abc'", "not a number"]),
    ("nan_target.csv", table_task("nan_target.csv"), ["nan_target.csv", "line 3", "has no value"]),
    # a missing-value mark is not called empty
    ("na_text_target.csv", table_task("na_text_target.csv"), ["na_text_target.csv", "line 3", "has no value"]),
    # a protein file read as dna: K is a nucleotide ambiguity code, but the advice is the alphabet
    ("protein_as_dna.csv", table_task("protein_as_dna.csv", alphabet="dna"),
     ["protein_as_dna.csv", "line 2", "looks like protein, not dna", "alphabet: protein", "--alphabet protein"]),
    ("inf_target.csv", table_task("inf_target.csv"), ["inf_target.csv", "line 3", "'inf'", "not finite"]),
    ("digit_in_sequence.csv", table_task("digit_in_sequence.csv"), ["digit_in_sequence.csv", "line 3", "'1' at position 3"]),
    ("stop_in_sequence.csv", table_task("stop_in_sequence.csv"), ["stop_in_sequence.csv", "line 3", "'*' at position 4"]),
    ("gap_in_sequence.csv", table_task("gap_in_sequence.csv"), ["gap_in_sequence.csv", "line 3", "'-' at position 2"]),
    ("unknown_letter.csv", table_task("unknown_letter.csv"), ["unknown_letter.csv", "line 3", "'O' at position 3", "protein"]),
    ("ambiguous_under_error.csv", table_task("ambiguous_under_error.csv", alphabet="dna"),
     ["ambiguous_under_error.csv", "line 3", "ambiguous letter 'N' at position 3"]),
    ("unknown_letter_with_ambiguity_policy.csv",
     table_task("unknown_letter_with_ambiguity_policy.csv", alphabet="dna", ambiguous="zero"),
     ["unknown_letter_with_ambiguity_policy.csv", "line 4", "'Q' at position 3"]),
    ("duplicate_ids.csv", table_task("duplicate_ids.csv", columns={"id": "id"}),
     ["duplicate_ids.csv", "line 4", "duplicate id 'a'", "line 2"]),
    ("text_before_header.fa", fasta_task("text_before_header.fa"), ["text_before_header.fa", "line 1", "before the first '>'"]),
    ("empty_record.fa", fasta_task("empty_record.fa"), ["empty_record.fa", "record 'b' (line 3)", "empty record"]),
    ("truncated_last_record.fa", fasta_task("truncated_last_record.fa"),
     ["truncated_last_record.fa", "record 'c' (line 5)", "truncated last record"]),
    ("label_missing.fa", fasta_task("label_missing.fa"), ["label_missing.fa", "record 'b' (line 3)", "no 'label=' token"]),
    ("end_before_start.bed", bed_task("end_before_start.bed"), ["end_before_start.bed", "line 1", "end 10 <= start 10"]),
    ("past_chrom_end.bed", bed_task("past_chrom_end.bed"), ["past_chrom_end.bed", "line 2", "past the end of chrA (40 bp)"]),
    ("unknown_chrom.bed", bed_task("unknown_chrom.bed"), ["unknown_chrom.bed", "line 2", "chromosome 'chrB'"]),
    ("too_long.csv", table_task("too_long.csv", max_length=5), ["too_long.csv", "line 3", "length 9 exceeds max_length 5"]),
    ("unknown_class.csv",
     table_task("unknown_class.csv", alphabet="dna", task_type="multiclass", classes=["n", "ei", "ie"],
                columns={"target": "label"}, split=COLUMN_SPLIT),
     ["unknown_class.csv", "line 5", "unknown class label 'xx'", "n, ei, ie"]),
    ("split_unexpected.csv", table_task("split_unexpected.csv", split=COLUMN_SPLIT),
     ["split_unexpected.csv", "line 3", "unexpected values ['tset']"]),
    ("split_no_train.csv", table_task("split_no_train.csv", split=COLUMN_SPLIT),
     ["split_no_train.csv", "task 'case'", "no train rows"]),
    ("split_no_valid.csv", table_task("split_no_valid.csv", split={**COLUMN_SPLIT, "valid_fraction": 0}),
     ["split_no_valid.csv", "task 'case'", "no valid rows"]),
    ("split_no_test.csv", table_task("split_no_test.csv", split=COLUMN_SPLIT),
     ["split_no_test.csv", "task 'case'", "no test rows"]),
    ("fold_not_int.csv", table_task("fold_not_int.csv", split={"scheme": "kfold_column", "column": "fold"}),
     ["fold_not_int.csv", "line 4", "'one'", "not an integer"]),
    # issue 18
    ("class_only_in_test.csv",
     table_task("class_only_in_test.csv", alphabet="dna", task_type="multiclass",
                columns={"target": "label"}, split=COLUMN_SPLIT),
     ["class_only_in_test.csv", "class 'ie' is in 1 test rows", "no train row", "never learn"]),
    ("constant_target.csv", table_task("constant_target.csv"),
     ["constant_target.csv", "column 'fitness'", "every target is 2.5 (3 rows)"]),
    ("empty_group.csv", table_task("empty_group.csv", **GROUPED),
     ["empty_group.csv", "line 3", "group column 'locus' is empty", "1 rows lack one"]),
    ("no_strand.bed", bed_task("no_strand.bed", require_strand=True),
     ["no_strand.bed", "line 1", "5 columns, no strand column", "input.require_strand", "2 regions"]),
    ("dot_strand.bed", bed_task("dot_strand.bed", require_strand=True),
     ["dot_strand.bed", "line 2", "strand '.'", "input.require_strand", "1 regions"]),
    ("wrong_length.csv", table_task("wrong_length.csv", length=4),
     ["wrong_length.csv", "line 3", "sequence length 3, but every sequence must have length 4"]),
    ("too_short.csv", table_task("too_short.csv", min_length=4),
     ["too_short.csv", "line 4", "sequence length 3 is below min_length 4"]),
    ("ambiguous_not_allowed.csv",
     table_task("ambiguous_not_allowed.csv", alphabet="dna", ambiguous="zero", ambiguous_allowed=["N"]),
     ["ambiguous_not_allowed.csv", "line 4", "ambiguous letter 'R' at position 3", "ambiguous_allowed [N]"]),
    ("too_few_groups.csv",
     table_task("too_few_groups.csv", split={"scheme": "group_random", "fractions": [0.5, 0.25, 0.25]}, **GROUPED),
     ["too_few_groups.csv", "task 'case'", "2 groups cannot fill train, valid, test", "at least 3"]),
    ("one_group_kfold.csv", table_task("one_group_kfold.csv", split={"scheme": "group_kfold"}, **GROUPED),
     ["one_group_kfold.csv", "1 group cannot fill 5 folds", "no test split can be made"]),
    ("cp1252_header.fa", fasta_task("cp1252_header.fa"), ["cp1252_header.fa", "line 3", *DECODE]),
    ("cp1252_header.csv", table_task("cp1252_header.csv"), ["cp1252_header.csv", "line 1", *DECODE]),
    ("cp1252_row.csv", table_task("cp1252_row.csv"), ["cp1252_row.csv", "line 3", *DECODE]),
    ("cp1252.bed", bed_task("cp1252.bed"), ["cp1252.bed", "line 2", *DECODE]),
    ("cp1252_genome.fa", bed_task("../good/regions.bed", genome="cp1252_genome.fa"),
     ["cp1252_genome.fa", "line 1", *DECODE]),
    ("cp1252_labels.csv",
     {"input": {"format": "fasta", "path": "../good/ids.fa", "labels_table": "cp1252_labels.csv"},
      "columns": {"target": "label"}, "alphabet": "dna", "task_type": "binary", "split": {"scheme": "random"}},
     ["cp1252_labels.csv", "line 3", *DECODE]),
]


def test_every_bad_file_has_a_case():
    assert sorted(p.name for p in BAD.iterdir() if p.name != "genome.fa") == sorted(c[0] for c in CASES)


@pytest.mark.parametrize("case,task,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_with_located_message(case, task, fragments):
    with pytest.raises(LyraInputError) as caught:
        task = typed(task)
        assign(load_records(task, BAD), task.split, task.name)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize("case", ["crlf.csv", "cr_only.csv", "bom.csv", "gzipped.csv.gz", "gzip_without_suffix.csv"])
def test_table_quirks_are_accepted(case):
    target = "fit ness" if case == "cr_only.csv" else "fitness"
    task = table_task(case, columns={"target": target}, split=COLUMN_SPLIT)
    records = load_records(typed(task, "quirk"), GOOD)
    assert records["sequence"].tolist() == ["ACDE", "ACDF", "ACDG"]
    assert records["target"].tolist() == [1.0, 2.0, 3.0]
    assert records["split"].tolist() == ["train", "valid", "test"]


def test_mixed_case_is_accepted_and_counted(caplog):
    task = table_task("mixed_case.csv", split=COLUMN_SPLIT)
    with caplog.at_level("INFO", logger="lyra.data.encode"):
        records = load_records(typed(task, "mixed"), GOOD)
    assert records["sequence"].tolist() == ["ACDE", "ACDF", "ACDG", "ACDH"]
    assert "upper-cased 6 lower-case letters in 2 records" in caplog.text


def test_genome_in_read_only_dir_without_index(tmp_path):
    genome_dir = tmp_path / "genome"
    genome_dir.mkdir()
    shutil.copy(GOOD / "genome.fa", genome_dir / "genome.fa")
    shutil.copy(GOOD / "regions.bed", genome_dir / "regions.bed")
    genome_dir.chmod(0o555)
    try:
        task = bed_task("regions.bed")
        records = load_records(typed(task, "ro"), genome_dir)
        assert sorted(os.listdir(genome_dir)) == ["genome.fa", "regions.bed"]
    finally:
        genome_dir.chmod(0o755)
    genome = "ACGTTGCAACGGTTAACCGG"  # [0, 4) on +, [8, 14) on - (reverse-complemented)
    assert records["sequence"].tolist() == [genome[0:4], str(Seq(genome[8:14]).reverse_complement())]
    assert records["target"].tolist() == [1, 0]


def test_missing_column_lists_only_the_file_columns():
    with pytest.raises(LyraInputError) as caught:
        load_records(typed(table_task("missing_column.csv")), BAD)
    assert str(caught.value).endswith("available columns: seq, fitness")


def test_missing_fasta_label_column_hides_the_reader_columns():
    task = {"input": {"format": "fasta", "path": "ids.fa"}, "columns": {"target": "label"},
            "alphabet": "dna", "task_type": "binary", "split": {"scheme": "random"}}
    with pytest.raises(LyraInputError) as caught:
        load_records(typed(task), GOOD)
    assert str(caught.value).endswith("available columns: id, sequence")


def test_bed_without_strand_is_read_as_plus_with_a_warning(caplog):
    with caplog.at_level("WARNING", logger="lyra.io.genome"):
        records = load_records(typed(bed_task("dot_strand.bed"), "dots"), GOOD)
    assert "dot_strand.bed: 2 of 3 regions have no strand (strand '.'); read as +" in caplog.text
    genome = "ACGTTGCAACGGTTAACCGG"
    assert records["sequence"].tolist() == [genome[0:4], genome[8:14], genome[2:6]]
    assert records["strand"].tolist() == ["+", "+", "+"]


def test_fixed_length_and_allowed_ambiguity_codes_accept_matching_rows():
    task = table_task("ambiguous_not_allowed.csv", alphabet="dna", ambiguous="zero",
                      ambiguous_allowed=["N", "R"], length=4, min_length=4)
    records = load_records(typed(task, "ok"), BAD)
    assert records["sequence"].tolist() == ["ACGT", "ACNT", "ACRT"]


def test_new_keys_pass_the_schema():
    table = table_task("x.csv", length=40, min_length=40, ambiguous="zero", ambiguous_allowed=["N"],
                       split={"scheme": "group_random", "fractions": [0.8, 0.1, 0.1], "seed": 1}, **GROUPED)
    bed = bed_task("x.bed", require_strand=True)
    task = task_from_config({"tasks": {"t": table, "b": bed}}, "t")
    assert (task.length, task.min_length, task.ambiguous_allowed) == (40, 40, ["N"])
    assert task_from_config({"tasks": {"t": table, "b": bed}}, "b").input["require_strand"] is True
    assert task_from_config({"tasks": {"b": bed_task("x.bed")}}, "b").input["require_strand"] is False
