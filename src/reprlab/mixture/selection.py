"""Choosing the number of components by an information criterion (BIC or AIC).

BIC ``= -2 log L + p log N`` (Schwarz 1978) penalises the ``p`` free parameters (see
:func:`reprlab.mixture.n_parameters`) more than AIC ``= -2 log L + 2 p`` (Akaike 1974) once N > 7;
BIC is consistent for the number of components of a true mixture, AIC tends to choose more.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from reprlab.errors import ConfigError
from reprlab.mixture.gaussian_mixture import GaussianMixture


def select_n_components(X: Any, candidates: Iterable[int], *, criterion: Literal["bic", "aic"] = "bic",
                        **params: Any) -> tuple[GaussianMixture, dict[int, float]]:
    """Fit one :class:`GaussianMixture` per candidate K; the one with the lowest criterion.

    Parameters
    ----------
    X : array-like (N, D)
    candidates : iterable of int
        Numbers of components to try.
    criterion : {"bic", "aic"}
    **params
        Other :class:`GaussianMixture` parameters (``covariance_type``, ``random_state``, ...).

    Returns
    -------
    (best fitted model, {K: criterion value})
    """
    ks = sorted(set(int(k) for k in candidates))
    if not ks:
        raise ConfigError("select_n_components: no candidate numbers of components given")
    if criterion not in ("bic", "aic"):
        raise ConfigError(f"criterion={criterion!r}: choose 'bic' or 'aic'")
    scores, best = {}, None
    for k in ks:
        model = GaussianMixture(k, **params).fit(X)
        scores[k] = getattr(model, criterion)(X)
        if best is None or scores[k] < scores[best.n_components]:
            best = model
    assert best is not None  # ks is not empty
    return best, scores


__all__ = ["select_n_components"]
