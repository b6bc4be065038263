"""scikit-learn's own estimator checks (``parametrize_with_checks``) on TSNE, SNE and LLE.

Small settings keep the ~50 checks per estimator to a few seconds; ``perplexity=2`` is what
scikit-learn's own suite gives its TSNE, whose check data sets have 10-30 samples.
"""

import warnings

from sklearn.utils.estimator_checks import parametrize_with_checks

from reprlab.embed import LLE, SNE, TSNE

# The one legitimate difference, and its reason: fit_transform(X) is the optimised map of X, while
# transform(X) places X's points into that fixed map, each against its own neighbours among the
# training points (Policar et al., openTSNE's transform) — close to, but not, the fitted positions.
RE_EMBEDS = ("transform(X_train) re-embeds the points against the fixed map (openTSNE's transform), so it "
             "is not fit_transform(X_train)")
EXPECTED_FAILURES = {
    "TSNE": {"check_transformer_general": RE_EMBEDS, "check_transformer_data_not_an_array": RE_EMBEDS},
}


def _expected_failures(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


ESTIMATORS = [
    TSNE(perplexity=2, early_exaggeration_iter=50, max_iter=100, method="barnes_hut", random_state=0),
    SNE(perplexity=2, n_iter=100, early_exaggeration_iter=20, random_state=0),
    LLE(n_neighbors=5, random_state=0),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def test_max_iter_is_sklearns_total_count():
    import numpy as np

    x = np.random.default_rng(0).normal(size=(60, 5))
    a = TSNE(perplexity=5, early_exaggeration_iter=50, n_iter=70, random_state=0).fit(x)
    b = TSNE(perplexity=5, early_exaggeration_iter=50, max_iter=120, n_iter=999, random_state=0).fit(x)
    assert a.n_iter_ == b.n_iter_ == 120 and np.array_equal(a.embedding_, b.embedding_)


def test_sparse_and_complex_input_get_one_line_with_the_fix():
    import numpy as np
    import pytest
    import scipy.sparse as sp

    from reprlab.errors import DataError

    x = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(DataError, match=r"sparse input is not supported by TSNE: .*X.toarray\(\).*TruncatedSVD"):
        TSNE().fit(sp.csr_matrix(x))
    with pytest.raises(DataError, match="Complex data not supported"):
        LLE().fit(x + 1j)
    with pytest.raises(DataError, match=r"0 feature\(s\) \(shape=\(20, 0\)\)"):
        SNE().fit(x[:, :0])
