"""reprlab.mixture: maximum likelihood as an unsupervised objective — Gaussian mixtures fitted by EM.

Mirrors ``sklearn.mixture``: :class:`GaussianMixture` has scikit-learn's parameters, methods
(``fit``/``predict``/``predict_proba``/``score``/``score_samples``/``sample``/``bic``/``aic``) and
fitted attributes, with EM in torch (batched over components, chunked over rows, CUDA when
present). Works on raw data and on learned codes (autoencoder, SimCLR or BERT features).
See docs/mixture.md.

>>> from reprlab.mixture import GaussianMixture
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports

if TYPE_CHECKING:
    from reprlab.mixture.em import COVARIANCE_TYPES, CovarianceType, e_step, estimate_gaussian_parameters, n_parameters
    from reprlab.mixture.gaussian_mixture import GaussianMixture
    from reprlab.mixture.kmeans_init import kmeans, kmeans_plusplus
    from reprlab.mixture.metrics import cluster_purity
    from reprlab.mixture.runs import ObjectivesResult, ObjectivesRunConfig, run_objectives
    from reprlab.mixture.selection import select_n_components

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "em": ("COVARIANCE_TYPES", "CovarianceType", "e_step", "estimate_gaussian_parameters", "n_parameters"),
    "gaussian_mixture": ("GaussianMixture",),
    "kmeans_init": ("kmeans", "kmeans_plusplus"),
    "metrics": ("cluster_purity",),
    "runs": ("ObjectivesRunConfig", "ObjectivesResult", "run_objectives"),
    "selection": ("select_n_components",),
})
