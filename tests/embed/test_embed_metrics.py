"""Map quality metrics against scikit-learn and closed forms."""

import numpy as np
import pytest
from sklearn.manifold import trustworthiness as sk_trustworthiness
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from reprlab.embed.metrics import continuity, knn_preservation, map_knn_accuracy, strand_ratio, trustworthiness


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10))
    y = x[:, :2] + rng.normal(0, 0.5, (200, 2))
    labels = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    return x, y, labels


@pytest.mark.parametrize("k", [1, 5, 12])
def test_trustworthiness_matches_sklearn(data, k):
    x, y, _ = data
    assert trustworthiness(x, y, k) == pytest.approx(sk_trustworthiness(x, y, n_neighbors=k), abs=1e-12)


def test_continuity_is_trustworthiness_with_roles_swapped(data):
    x, y, _ = data
    assert continuity(x, y, 7) == pytest.approx(sk_trustworthiness(y, x, n_neighbors=7), abs=1e-12)


def test_perfect_map_scores_one(data):
    x, _, _ = data
    assert trustworthiness(x, x * 3.0, 5) == pytest.approx(1.0)
    assert continuity(x, x, 5) == pytest.approx(1.0)
    assert knn_preservation(x, x + 1.0, 10) == pytest.approx(1.0)


def test_knn_accuracy_matches_leave_one_out_sklearn(data):
    _, y, labels = data
    ref = cross_val_score(KNeighborsClassifier(10), y, labels, cv=LeaveOneOut()).mean()
    assert map_knn_accuracy(y, labels, 10) == pytest.approx(ref, abs=0.01)


def test_strand_ratio_closed_forms():
    t = np.linspace(0, 1, 100)
    line = np.c_[t, 2 * t]
    circle = np.c_[np.cos(2 * np.pi * t[:-1]), np.sin(2 * np.pi * t[:-1])]
    labels = np.zeros(len(line), int)
    assert strand_ratio(line, labels)["median"] == pytest.approx(0.0, abs=1e-12)
    assert strand_ratio(circle, labels[:-1])["median"] == pytest.approx(1.0, abs=1e-9)


def test_trustworthiness_rejects_large_k(data):
    x, y, _ = data
    with pytest.raises(ValueError, match="k=150"):
        trustworthiness(x, y, 150)


def test_knn_accuracy_caps_k_for_small_maps():
    import numpy as np
    import pytest

    from reprlab.embed import map_knn_accuracy
    from reprlab.errors import DataError

    y = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [5.2, 5.0]])
    labels = np.array([0, 0, 1, 1, 1])
    # k=10 becomes 4: each class-1 point sees 2 of its own and 2 others -> tie to class 0 (smallest label)
    assert map_knn_accuracy(y, labels, k=10) == map_knn_accuracy(y, labels, k=4)
    assert map_knn_accuracy(y, labels, k=1) == 1.0
    with pytest.raises(DataError, match="at least 2 points"):
        map_knn_accuracy(y[:1], labels[:1])


def test_old_name_warns_and_is_the_map_metric():
    import reprlab.embed as embed

    with pytest.warns(DeprecationWarning, match="map_knn_accuracy"):
        assert embed.knn_accuracy is map_knn_accuracy
