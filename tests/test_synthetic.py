"""The synthetic epistasis landscape: reproducible, and linear only when it should be."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.preprocessing import OneHotEncoder

from lyra.data.synthetic import epistasis_landscape


def _linear_fit_r2(table: pd.DataFrame) -> float:
    """Held-out R2 of a ridge regression on one-hot features (last quarter held out)."""
    chars = np.array([list(s) for s in table["sequence"]])
    features = OneHotEncoder(handle_unknown="ignore").fit_transform(chars)
    n_train = len(table) * 3 // 4
    model = Ridge(alpha=1e-3).fit(features[:n_train], table["target"][:n_train])
    return r2_score(table["target"][n_train:], model.predict(features[n_train:]))


def test_same_seed_same_table_other_seed_other_table():
    kwargs = dict(n_sequences=50, length=12, alphabet="dna", n_terms=(3, 3, 3), noise=0.2)
    first = epistasis_landscape(seed=7, **kwargs)
    pd.testing.assert_frame_equal(first, epistasis_landscape(seed=7, **kwargs))
    assert not first["sequence"].equals(epistasis_landscape(seed=8, **kwargs)["sequence"])


def test_table_shape_and_letters():
    table = epistasis_landscape(n_sequences=40, length=9, alphabet="rna", seed=1)
    assert list(table.columns) == ["id", "sequence", "target"]
    assert table["id"].is_unique
    assert table["sequence"].str.len().eq(9).all()
    assert set("".join(table["sequence"])) <= set("ACGU")
    assert np.isfinite(table["target"]).all()


def test_first_order_without_noise_is_linear_in_one_hot():
    table = epistasis_landscape(
        n_sequences=3000, length=20, alphabet="protein", orders=(1,), n_terms=(40,), noise=0.0, seed=3
    )
    assert _linear_fit_r2(table) > 0.99


def test_higher_order_terms_defeat_a_linear_fit():
    common = dict(n_sequences=3000, length=20, alphabet="dna", noise=0.0, seed=3)
    additive = epistasis_landscape(orders=(1,), n_terms=(20,), **common)
    epistatic = epistasis_landscape(orders=(1, 2, 3), n_terms=(20, 20, 20), **common)
    assert _linear_fit_r2(additive) > 0.99
    assert _linear_fit_r2(epistatic) < 0.8


def test_noise_is_added_with_the_given_sd():
    common = dict(n_sequences=4000, length=10, alphabet="dna", orders=(1,), n_terms=(10,), seed=5)
    clean = epistasis_landscape(noise=0.0, **common)["target"]
    noisy = epistasis_landscape(noise=0.5, **common)["target"]
    assert clean.mean() == pytest.approx(0.0, abs=1e-9)
    assert clean.std(ddof=0) == pytest.approx(1.0)
    assert (noisy - clean).std() == pytest.approx(0.5, rel=0.05)


def test_inconsistent_orders_are_rejected():
    with pytest.raises(ValueError, match="differ in length"):
        epistasis_landscape(n_sequences=10, length=5, orders=(1, 2), n_terms=(3,))
    with pytest.raises(ValueError, match="order"):
        epistasis_landscape(n_sequences=10, length=2, orders=(3,), n_terms=(1,))
