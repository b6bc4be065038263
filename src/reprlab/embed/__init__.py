"""reprlab.embed: embedding maps — SNE, t-SNE (exact, Barnes-Hut, FFT) and LLE — plus map quality metrics.

Estimators follow scikit-learn (``fit``/``fit_transform``/``transform``, ``get_params``):

>>> from reprlab.embed import TSNE, LLE, SNE          # doctest: +SKIP
>>> y = TSNE(perplexity=30, random_state=0).fit_transform(x)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports

if TYPE_CHECKING:
    from reprlab.embed.affinity import Affinities, joint_probabilities
    from reprlab.embed.lle import LLE, locally_linear_embedding
    from reprlab.embed.metrics import continuity, knn_preservation, map_knn_accuracy, strand_ratio, trustworthiness
    from reprlab.embed.runs import MapsResult, MapsRunConfig, TSNEResult, TSNERunConfig, run_maps, run_tsne
    from reprlab.embed.sne import SNE
    from reprlab.embed.tsne import TSNE

__all__, _lazy_getattr, __dir__ = lazy_exports(__name__, {
    "affinity": ("Affinities", "joint_probabilities"),
    "lle": ("LLE", "locally_linear_embedding"),
    "metrics": ("continuity", "knn_preservation", "map_knn_accuracy", "strand_ratio", "trustworthiness"),
    "runs": ("MapsResult", "MapsRunConfig", "TSNEResult", "TSNERunConfig", "run_maps", "run_tsne"),
    "sne": ("SNE",),
    "tsne": ("TSNE",),
})


def __getattr__(name: str) -> object:
    # ``knn_accuracy`` was this package's name for map_knn_accuracy; reprlab.transfer.knn_accuracy is the probe
    if name == "knn_accuracy":
        import warnings

        warnings.warn("reprlab.embed.knn_accuracy is now map_knn_accuracy (reprlab.transfer.knn_accuracy is the "
                      "weighted kNN probe of features)", DeprecationWarning, stacklevel=2)
        return _lazy_getattr("map_knn_accuracy")
    return _lazy_getattr(name)
