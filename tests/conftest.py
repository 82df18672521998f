"""Shared fixtures: tiny trained models for the ensemble, mutagenesis and variant tests, and
the data slices of the .test config."""

from pathlib import Path

import pytest

from lyra.cli import main
from lyra.data.synthetic import epistasis_landscape


GB1_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "gb1_wu2016_relso"


def write_test_data(root: Path) -> None:
    """The GB1 slices the .test config reads, under ``root``/resources/test_data/gb1
    (as its header says): 149 train rows, 49 test rows, and 40 test rows made longer."""
    gb1 = root / "resources" / "test_data" / "gb1"
    gb1.mkdir(parents=True)
    for name, source, n_rows in (("train.csv", "GB1_WU_train_data.csv", 150), ("test.csv", "GB1_WU_test_data.csv", 50)):
        lines = (GB1_DIR / source).read_text().splitlines(keepends=True)[:n_rows]
        (gb1 / name).write_text("".join(lines))
    test_rows = (GB1_DIR / "GB1_WU_test_data.csv").read_text().splitlines()[:40]
    (gb1 / "longer.csv").write_text("".join(line.replace(",", "GS,", 1) + "\n" for line in test_rows))


def train_members(root: Path, alphabet: str, length: int, n_members: int, task_type: str = "regression") -> Path:
    """``root``/seed<k>/model.pt for k < n_members: a small Lyra trained one epoch by ``lyra train``."""
    data = epistasis_landscape(200, length, alphabet=alphabet, orders=(1, 2), n_terms=(length, 4), noise=0.0, seed=3)
    flags = []
    if task_type == "binary":
        data["target"] = (data["target"] > data["target"].median()).map({True: "yes", False: "no"})
        flags = ["--task-type", "binary", "--classes", "no,yes"]
    data.to_csv(root / "train.csv", index=False)
    for seed in range(n_members):
        code = main(["train", "--input", str(root / "train.csv"), "--sequence-column", "sequence",
                     "--target-column", "target", "--id-column", "id", "--alphabet", alphabet, "--epochs", "1",
                     "--model-option", "d_model=8", "--model-option", "d_state=4", "--seed", str(seed),
                     "--out-dir", str(root / f"seed{seed}"), "--quiet", *flags])
        assert code == 0
    return root


@pytest.fixture(scope="session")
def protein_members(tmp_path_factory) -> Path:
    """Three protein regression models (length-12 landscape) in seed0/, seed1/, seed2/."""
    return train_members(tmp_path_factory.mktemp("protein_members"), "protein", 12, 3)


@pytest.fixture(scope="session")
def dna_members(tmp_path_factory) -> Path:
    """Two DNA binary classifiers (length-10 landscape) in seed0/, seed1/."""
    return train_members(tmp_path_factory.mktemp("dna_members"), "dna", 10, 2, task_type="binary")
