"""``GaussianMixture``: maximum-likelihood density estimation by EM, a scikit-learn estimator in torch.

The first of the talk's unsupervised objectives: fit ``p(x) = sum_k pi_k N(x | mu_k, Sigma_k)`` by
maximising ``sum_n log p(x_n)`` (Dempster, Laird & Rubin 1977; Bishop 2006, section 9.2). The
estimator has scikit-learn's ``GaussianMixture`` interface, parameters and fitted attributes, so
code written for one runs on the other; the E- and M-steps (:mod:`reprlab.mixture.em`) run in
torch, batched over components and chunked over rows, on CUDA when present.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6
    def validate_data(estimator: Any, X: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(X, **kwargs)

from reprlab.errors import CheckpointError, ConfigError, DataError
from reprlab.mixture import em
from reprlab.mixture.em import COVARIANCE_TYPES, CovarianceType
from reprlab.mixture.kmeans_init import kmeans, kmeans_plusplus

log = logging.getLogger(__name__)

InitParams = Literal["kmeans", "k-means++", "random", "random_from_data"]
INIT_PARAMS: tuple[str, ...] = ("kmeans", "k-means++", "random", "random_from_data")
Params = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # weights, means, covariances, U


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM (scikit-learn's ``GaussianMixture``, in torch).

    Dempster, Laird & Rubin (1977); Bishop (2006), *PRML* section 9.2. EM alternates
    responsibilities ``r_nk ∝ pi_k N(x_n | mu_k, Sigma_k)`` (E) with the weighted maximum-likelihood
    ``pi, mu, Sigma`` (M); the mean log-likelihood per sample never decreases (up to the
    O(``reg_covar``) ridge). Fitting stops when it changes by less than ``tol``.

    Parameters
    ----------
    n_components : int, default 1
        Number of mixture components K.
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
        Each component's own full matrix; one matrix shared by all; a diagonal each; one
        variance each.
    tol : float, default 1e-3
        Convergence threshold on the change of the mean log-likelihood per sample (nats).
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance, so that a component that collapses onto one
        point, duplicate points or a subspace stays positive definite (its covariance becomes
        ``reg_covar * I`` instead of singular). 0 disables it; then such a fit raises
        :class:`~reprlab.errors.DataError` naming the component.
    max_iter : int, default 100
        EM iterations per initialisation.
    n_init : int, default 1
        Initialisations; the one with the highest final log-likelihood is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default "kmeans"
        Initial responsibilities: hard k-means labels (k-means++ seeds, Lloyd iterations), the
        k-means++ seeds alone, random soft assignments, or K random points.
    weights_init, means_init, precisions_init : array-like, optional
        Starting parameters (shapes as ``weights_``, ``means_``, ``precisions_``); override what
        ``init_params`` gives.
    random_state : int, RandomState or None
        Seeds every random choice of a fit (one torch generator, drawn once per fit).
    warm_start : bool, default False
        Continue from the previous fit's parameters (one initialisation).
    verbose : int, default 0
        Log the log-likelihood every ``verbose_interval`` iterations (logger ``reprlab.mixture``).
    verbose_interval : int, default 10
    device : str, default "auto"
        ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps`` (float32 only).
    dtype : {"float64", "float32"}, default "float64"
        Arithmetic of EM. float64 matches scikit-learn; float32 is about twice as fast.
    batch_size : int, optional
        Rows per (K, rows, D) temporary (default: about 4M elements' worth).

    Attributes
    ----------
    weights_ : ndarray (K,)
    means_ : ndarray (K, D)
    covariances_ : ndarray
        (K, D, D), (D, D), (K, D) or (K,) by ``covariance_type``.
    precisions_, precisions_cholesky_ : ndarray
        Inverses of the covariances and their Cholesky factors ``U`` (``precision = U U^T``).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per sample (nats) of the best initialisation, computed in the E-step
        of its last iteration (scikit-learn's convention).
    lower_bounds_ : list of float
        The same quantity at every iteration of the best initialisation.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> x = np.concatenate([np.random.default_rng(0).normal(m, 1, (200, 2)) for m in (-5, 5)])
    >>> gmm = GaussianMixture(2, random_state=0).fit(x)
    >>> sorted(np.round(gmm.means_[:, 0]).tolist())
    [-5.0, 5.0]

    References
    ----------
    Dempster, Laird & Rubin (1977), J. Royal Statistical Society B 39(1).
    Arthur & Vassilvitskii (2007), "k-means++: the advantages of careful seeding".
    Schwarz (1978), "Estimating the dimension of a model" (BIC); Akaike (1974) (AIC).
    """

    # fitted state (set by fit; annotations only, so an unfitted estimator has none of them)
    weights_: np.ndarray
    means_: np.ndarray
    covariances_: np.ndarray
    precisions_: np.ndarray
    precisions_cholesky_: np.ndarray
    converged_: bool
    n_iter_: int
    lower_bound_: float
    lower_bounds_: list[float]
    _shift: np.ndarray

    def __init__(self, n_components: int = 1, *, covariance_type: CovarianceType = "full", tol: float = 1e-3,
                 reg_covar: float = 1e-6, max_iter: int = 100, n_init: int = 1, init_params: InitParams = "kmeans",
                 weights_init: Any = None, means_init: Any = None, precisions_init: Any = None,
                 random_state: Any = None, warm_start: bool = False, verbose: int = 0, verbose_interval: int = 10,
                 device: str = "auto", dtype: Literal["float64", "float32"] = "float64",
                 batch_size: int | None = None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size

    # ------------------------------------------------------------------ checks
    def _check_parameters(self) -> None:
        """:class:`ConfigError` naming the first out-of-range parameter."""
        def integer(name: str, low: int, none_ok: bool = False) -> None:
            v = getattr(self, name)
            if none_ok and v is None:
                return
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
                raise ConfigError(f"GaussianMixture {name}={v!r}: must be an integer >= {low}")

        def nonnegative(name: str) -> None:
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.number)) or isinstance(v, bool) or not v >= 0:
                raise ConfigError(f"GaussianMixture {name}={v!r}: must be a number >= 0")

        def choice(name: str, options: tuple[str, ...]) -> None:
            if getattr(self, name) not in options:
                raise ConfigError(f"GaussianMixture {name}={getattr(self, name)!r}: choose one of "
                                  f"{', '.join(map(repr, options))}")

        integer("n_components", 1)
        choice("covariance_type", COVARIANCE_TYPES)
        nonnegative("tol")
        nonnegative("reg_covar")
        integer("max_iter", 0)
        integer("n_init", 1)
        choice("init_params", INIT_PARAMS)
        integer("verbose_interval", 1)
        choice("dtype", ("float64", "float32"))
        integer("batch_size", 1, none_ok=True)

    def _torch_device(self) -> torch.device:
        from reprlab.train import resolve_device

        device = resolve_device(self.device)
        if device.type == "mps" and self.dtype == "float64":
            if self.device == "auto":
                return torch.device("cpu")
            raise ConfigError("GaussianMixture device='mps' has no float64; use dtype='float32' or device='cpu'")
        return device

    def _validate(self, X: Any, *, reset: bool) -> np.ndarray:
        """scikit-learn's input checks (2-D, finite, numeric, dense), as one-line :class:`DataError`s."""
        if torch.is_tensor(X):
            X = X.detach().cpu().numpy()
        try:
            return validate_data(self, X, dtype=[np.float64, np.float32], reset=reset,
                                 ensure_min_samples=2 if reset else 1)
        except ValueError as e:
            msg = " ".join(str(e).split())
            if "NaN" in msg or "infinity" in msg:
                msg = _non_finite(X) or msg + " Drop or impute those rows first (e.g. sklearn.impute.SimpleImputer)."
            raise DataError(f"GaussianMixture: {msg}") from None

    def _check_init_arrays(self, n_features: int) -> dict[str, np.ndarray | None]:
        k, d, cov = self.n_components, n_features, self.covariance_type
        out: dict[str, np.ndarray | None] = {"weights": None, "means": None, "precisions": None}
        shapes = {"weights": (k,), "means": (k, d),
                  "precisions": {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[cov]}
        for name in out:
            value = getattr(self, f"{name}_init")
            if value is None:
                continue
            arr = np.asarray(value, dtype=np.float64)
            if arr.shape != shapes[name]:
                raise ConfigError(f"GaussianMixture {name}_init has shape {arr.shape}; with n_components={k}, "
                                  f"{d} features and covariance_type={cov!r} it must be {shapes[name]}")
            if not np.isfinite(arr).all():
                raise ConfigError(f"GaussianMixture {name}_init contains NaN or infinite values")
            out[name] = arr
        w = out["weights"]
        if w is not None and ((w < 0).any() or abs(w.sum() - 1) > 1e-8):
            raise ConfigError(f"GaussianMixture weights_init must be >= 0 and sum to 1 (sum {w.sum():.6g})")
        p = out["precisions"]
        if p is not None:
            mats = p if cov == "full" else p[None] if cov == "tied" else None
            ok = (p > 0).all() if mats is None else all(
                np.allclose(m, m.T) and np.linalg.eigvalsh(m).min() > 0 for m in mats)
            if not ok:
                raise ConfigError(f"GaussianMixture precisions_init must be {'positive' if mats is None else 'symmetric positive-definite'}")
        return out

    # ------------------------------------------------------------------ EM
    def _m_step(self, x: torch.Tensor, resp: torch.Tensor, chunk: int) -> Params:
        nk, means, cov = em.estimate_gaussian_parameters(x, resp, float(self.reg_covar), self.covariance_type, chunk)
        return nk / nk.sum(), means, cov, em.precision_cholesky(cov, self.covariance_type)

    def _initial_params(self, x: torch.Tensor, generator: torch.Generator, init: dict, chunk: int) -> Params:
        n, k = len(x), self.n_components
        resp = x.new_zeros(n, k)
        if self.init_params == "kmeans":
            _, labels, _ = kmeans(x, k, generator=generator)
            resp[torch.arange(n, device=x.device), labels] = 1
        elif self.init_params == "k-means++":
            _, idx = kmeans_plusplus(x, k, generator=generator)
            resp[idx.to(x.device), torch.arange(k, device=x.device)] = 1
        elif self.init_params == "random":
            resp = torch.rand(n, k, generator=generator, dtype=torch.float64).to(x)
            resp /= resp.sum(1, keepdim=True)
        else:
            idx = torch.randperm(n, generator=generator)[:k]
            resp[idx.to(x.device), torch.arange(k, device=x.device)] = 1
        nk, means, cov = em.estimate_gaussian_parameters(x, resp, float(self.reg_covar), self.covariance_type, chunk)
        weights = nk / n
        as_t = lambda a: torch.as_tensor(a, dtype=x.dtype, device=x.device)  # noqa: E731
        if init["weights"] is not None:
            weights = as_t(init["weights"])
        if init["means"] is not None:
            means = as_t(init["means"] - self._shift)
        if init["precisions"] is not None:
            prec_chol = em.precision_cholesky_from_precisions(as_t(init["precisions"]), self.covariance_type)
            cov = em.covariances_from_cholesky(prec_chol, self.covariance_type)
        else:
            prec_chol = em.precision_cholesky(cov, self.covariance_type)
        return weights, means, cov, prec_chol

    def _fitted_params(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(weights, centred means, precision factors) of the fitted model as tensors."""
        as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)  # noqa: E731
        return as_t(self.weights_), as_t(self.means_ - self._shift), as_t(self.precisions_cholesky_)

    def _set_params(self, params: Params) -> None:
        weights, means, cov, prec_chol = (t.detach().cpu().double().numpy() for t in params)
        self.weights_, self.means_ = weights, means + self._shift
        self.covariances_, self.precisions_cholesky_ = cov, prec_chol
        if self.covariance_type in ("full", "tied"):
            self.precisions_ = prec_chol @ np.swapaxes(prec_chol, -1, -2)
        else:
            self.precisions_ = prec_chol ** 2

    def fit(self, X: Any, y: Any = None) -> GaussianMixture:
        """Estimate the parameters by EM (``n_init`` starts, the best kept); returns ``self``.

        Raises
        ------
        ConfigError
            A parameter out of range (unknown ``covariance_type``, ``n_components < 1``, ...).
        DataError
            Fewer than two rows, more components than rows, NaN/inf, non-numeric or sparse input,
            or a component whose covariance became singular (see ``reg_covar``).
        """
        self.fit_predict(X, y)
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then the most probable component of each row of ``X``, shape (N,)."""
        self._check_parameters()
        X = self._validate(X, reset=True)
        n, d = X.shape
        if n < self.n_components:
            raise DataError(f"GaussianMixture: n_components={self.n_components} but X has only {n} rows "
                            f"(n_samples = {n}); use at most {n} components or more data")
        init = self._check_init_arrays(d)
        device, dtype = self._torch_device(), getattr(torch, self.dtype)
        chunk = self.batch_size or em.chunk_rows(self.n_components, d)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        if do_init:
            self._shift = X.mean(0, dtype=np.float64)  # EM on centred data: no cancellation far from 0
        x = torch.as_tensor(X - self._shift, dtype=dtype, device=device)
        rng = check_random_state(self.random_state)
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))

        best, best_lb, best_bounds, best_iter, converged_best = None, -math.inf, [], 0, False
        for trial in range(self.n_init if do_init else 1):
            if do_init:
                params = self._initial_params(x, generator, init, chunk)
                lower = -math.inf
            else:
                w, mu, u = self._fitted_params(device, dtype)
                params = (w, mu, em.covariances_from_cholesky(u, self.covariance_type), u)
                lower = float(self.lower_bound_)
            bounds: list[float] = []
            converged, n_iter = False, 0
            for n_iter in range(1, self.max_iter + 1):
                previous = lower
                log_norm, log_resp = em.e_step(x, params[0], params[1], params[3], self.covariance_type, chunk)
                params = self._m_step(x, log_resp.exp(), chunk)
                lower = float(log_norm.mean())
                bounds.append(lower)
                if self.verbose and n_iter % self.verbose_interval == 0:
                    log.info("init %d iteration %d: mean log-likelihood %.6f (change %.3g)", trial, n_iter,
                             lower, lower - previous)
                if abs(lower - previous) < self.tol:
                    converged = True
                    break
            if best is None or lower > best_lb:
                best, best_lb, best_bounds, best_iter, converged_best = params, lower, bounds, n_iter, converged
        assert best is not None  # n_init >= 1
        if not converged_best and self.max_iter > 0:
            warnings.warn(f"GaussianMixture did not converge in max_iter={self.max_iter} iterations "
                          f"(last change above tol={self.tol}); increase max_iter or tol, or check for "
                          "degenerate data", ConvergenceWarning, stacklevel=2)
        self._set_params(best)
        self.converged_, self.n_iter_ = converged_best, best_iter
        self.lower_bound_, self.lower_bounds_ = best_lb, best_bounds
        _, log_resp = self._e_step_np(X)
        return log_resp.argmax(1).cpu().numpy()

    # ------------------------------------------------------------------ inference
    def _e_step_np(self, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        device, dtype = self._torch_device(), getattr(torch, self.dtype)
        x = torch.as_tensor(X - self._shift, dtype=dtype, device=device)
        w, mu, u = self._fitted_params(device, dtype)
        return em.e_step(x, w, mu, u, self.covariance_type, self.batch_size)

    def _infer(self, X: Any) -> tuple[torch.Tensor, torch.Tensor]:
        check_is_fitted(self)
        return self._e_step_np(self._validate(X, reset=False))

    def score_samples(self, X: Any) -> np.ndarray:
        """``log p(x_n)`` of each row, shape (N,) (nats)."""
        return self._infer(X)[0].double().cpu().numpy()

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per row of ``X`` (nats)."""
        return float(self.score_samples(X).mean())

    def predict(self, X: Any) -> np.ndarray:
        """The most probable component of each row, shape (N,)."""
        return self._infer(X)[1].argmax(1).cpu().numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Responsibilities ``p(k | x_n)``, shape (N, K); rows sum to 1."""
        return self._infer(X)[1].exp().double().cpu().numpy()

    def _total_log_likelihood(self, X: Any) -> tuple[float, int]:
        log_norm, _ = self._infer(X)
        return float(log_norm.double().sum()), len(log_norm)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion ``-2 log L + p log N`` (Schwarz 1978); lower is better."""
        total, n = self._total_log_likelihood(X)
        return -2 * total + self._n_parameters() * math.log(n)

    def aic(self, X: Any) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` (Akaike 1974); lower is better."""
        total, _ = self._total_log_likelihood(X)
        return -2 * total + 2 * self._n_parameters()

    def _n_parameters(self) -> int:
        return em.n_parameters(self.n_components, self.means_.shape[1], self.covariance_type)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_samples`` points: ``(X (n, D), component labels (n,))``, grouped by component.

        Uses ``random_state`` afresh on every call (as scikit-learn does).
        """
        check_is_fitted(self)
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ConfigError(f"sample(n_samples={n_samples!r}): must be an integer >= 1")
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_ / self.weights_.sum())
        g = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        d = self.means_.shape[1]
        cov = torch.as_tensor(self.covariances_, dtype=torch.float64)
        parts = []
        for k, c in enumerate(counts):
            z = torch.randn(int(c), d, generator=g, dtype=torch.float64)
            if self.covariance_type in ("full", "tied"):
                z = z @ torch.linalg.cholesky(cov[k] if self.covariance_type == "full" else cov).T
            else:
                z = z * (cov[k] if self.covariance_type == "diag" else cov[k].expand(d)).sqrt()
            parts.append(z.numpy() + self.means_[k])
        return np.concatenate(parts), np.repeat(np.arange(self.n_components), counts)

    # ------------------------------------------------------------------ files
    _ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_")

    def save(self, path: str | Path) -> Path:
        """Write the fitted model as one safetensors file (arrays + JSON metadata with a checksum)."""
        from safetensors.numpy import save

        from reprlab.io import atomic_write

        check_is_fitted(self)
        arrays = {name: np.ascontiguousarray(getattr(self, name)) for name in self._ARRAYS}
        arrays["shift"] = np.ascontiguousarray(self._shift)
        params = {k: v for k, v in self.get_params().items() if not k.endswith("_init") and k != "random_state"}
        meta = {"format": "reprlab.mixture.GaussianMixture", "params": params,
                "state": {"converged_": bool(self.converged_), "n_iter_": int(self.n_iter_),
                          "lower_bound_": float(self.lower_bound_), "lower_bounds_": list(map(float, self.lower_bounds_)),
                          "n_features_in_": int(self.n_features_in_)},
                "sha256": _digest(arrays)}
        path = Path(path)
        with atomic_write(path, "wb", encoding=None) as f:
            f.write(save(arrays, metadata={"reprlab": json.dumps(meta)}))
        return path

    @classmethod
    def load(cls, path: str | Path) -> GaussianMixture:
        """A fitted estimator from :meth:`save`'s file; :class:`CheckpointError` if damaged."""
        from safetensors import safe_open
        from safetensors.numpy import load_file

        from reprlab.train.checkpoint import refuse_pickle

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found; write one with GaussianMixture.save or `reprlab gmm fit`")
        refuse_pickle(path)
        try:
            arrays = load_file(str(path))
            with safe_open(str(path), "np") as f:
                meta = json.loads((f.metadata() or {}).get("reprlab", "null"))
        except Exception as e:  # safetensors raises several types for damaged headers
            raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({e}); fit the model again") from None
        if not isinstance(meta, dict) or meta.get("format") != "reprlab.mixture.GaussianMixture":
            raise CheckpointError(f"{path}: not a reprlab GaussianMixture file (no 'reprlab' metadata)")
        if meta.get("sha256") != _digest(arrays):
            raise CheckpointError(f"{path}: checksum mismatch, the file was damaged after it was written; fit again")
        model = cls(**meta["params"])
        for name in cls._ARRAYS:
            setattr(model, name, arrays[name])
        model._shift = arrays["shift"]
        prec_chol = model.precisions_cholesky_
        model.precisions_ = (prec_chol @ np.swapaxes(prec_chol, -1, -2)
                             if model.covariance_type in ("full", "tied") else prec_chol ** 2)
        for name, value in meta["state"].items():
            setattr(model, name, value)
        return model


def _non_finite(X: Any) -> str | None:
    """Where a 2-D input is not finite, as one sentence with the fix (None if it cannot tell)."""
    try:
        a = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    bad = ~np.isfinite(a)
    if a.ndim != 2 or not bad.any():
        return None
    nan, inf = bool(np.isnan(a).any()), bool(np.isinf(a).any())
    what = "NaN and infinity" if nan and inf else "NaN" if nan else "infinity"
    row, col = (int(i) for i in np.argwhere(bad)[0])
    return (f"X contains {what} in {int(bad.any(axis=1).sum())} of {len(a)} rows ({int(bad.sum())} of {a.size} values; "
            f"the first at row {row}, column {col}); drop or impute those rows first (e.g. sklearn.impute.SimpleImputer)")


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.hexdigest()


__all__ = ["GaussianMixture", "InitParams", "INIT_PARAMS"]
