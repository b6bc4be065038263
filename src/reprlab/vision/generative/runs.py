"""End-to-end runs behind ``reprlab autoencoder|rbm|vae``: train, evaluate, write metrics and figures.

Each ``run_x(cfg: XRunConfig) -> XResult`` takes one nested dataclass config (``data:
DataSpec``, ``model``, ``train: TrainConfig``), trains through the shared Trainer into
``train.output_dir`` and adds ``evaluation.json`` plus PNG figures there. The result holds that
evaluation and the trained model(s). :func:`demo` is the generative step of ``reprlab demo``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch

from reprlab.config import check_choices
from reprlab.data import ArrayDataset, DataSpec, load_dataset, load_split
from reprlab.errors import ConfigError
from reprlab.io import write_json
from reprlab.train import TrainConfig, Trainer
from reprlab.vision.generative import evaluation as ev
from reprlab.vision.generative.ais import ais_log_partition, average_log_likelihood
from reprlab.vision.generative.autoencoder import (
    Activation,
    AutoencoderConfig,
    AutoencoderObjective,
    DeepAutoencoder,
    Init,
    default_code_dim,
    default_hidden,
    encode_dataset,
    reconstruct_dataset,
)
from reprlab.vision.generative.rbm import RBM, RBMConfig, RBMObjective
from reprlab.vision.generative.stacked import (
    DBNConfig,
    DBNStack,
    StackedAEConfig,
    dbn_log_likelihood_bound,
    pretrain_dbn,
    pretrain_stacked_autoencoder,
)
from reprlab.vision.generative.vae import VAE, VAEConfig, VAEObjective, evaluate_vae, interpolate, latent_grid

log = logging.getLogger(__name__)


def _rbm_train(output_dir: str = "runs/run") -> TrainConfig:
    return TrainConfig(output_dir=output_dir, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=2e-4,
                       max_grad_norm=None, batch_size=100, max_steps=3000, save_every=1000)


def _image_shape(ds: ArrayDataset) -> tuple[int, int]:
    h, w = ds.x.shape[-2:]
    return int(h), int(w)


# ------------------------------------------------------------- autoencoder
@dataclass
class AutoencoderRunConfig:
    """``reprlab autoencoder train``: a deep autoencoder vs PCA with the same code size."""

    data: DataSpec = field(default_factory=DataSpec)
    pretrain: Literal["none", "dbn", "stacked"] = "none"  # dbn: stacked RBMs (Hinton & Salakhutdinov 2006); stacked: denoising AEs
    model: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        output_dir="runs/autoencoder", optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=256,
        max_steps=2350, save_every=500, log_every=50))
    pretrain_train: TrainConfig = field(default_factory=_rbm_train)  # per-layer runs of the pretraining

    def __post_init__(self) -> None:
        check_choices(self)


@dataclass
class AutoencoderResult:
    """What :func:`run_autoencoder` measured (also in ``evaluation.json``) and the trained model."""

    evaluation: dict[str, Any]
    model: DeepAutoencoder = field(repr=False)
    run_dir: Path

    def summary(self) -> str:
        """One readable line: test error of the AE vs PCA with the same code size, and code probes."""
        e, k = self.evaluation, self.evaluation["code_dim"]
        line = (f"autoencoder ({e['activation']}, {k}-d code): test squared error per image "
                f"{e['test_sq_err_per_image']:.2f} vs PCA-{k} {e[f'pca{k}_test_sq_err_per_image']:.2f}")
        if "pretrained_test_sq_err_per_image_before_finetune" in e:
            line += f" (pretrained, before fine-tuning {e['pretrained_test_sq_err_per_image_before_finetune']:.2f})"
        if "knn_acc" in e:
            line += (f"; code kNN accuracy {e['knn_acc']:.3f} vs PCA {e['pca_knn_acc']:.3f}, linear probe "
                     f"{e['linear_probe_acc']:.3f} vs {e['pca_linear_probe_acc']:.3f}")
        return line


def _fit_input_dim(model: AutoencoderConfig, ds: ArrayDataset) -> AutoencoderConfig:
    d = int(ds.x[0].numel())
    if model.input_dim == 784 and d != 784 and model.hidden == (1000, 500, 250):
        code = default_code_dim(d) if model.code_dim == 30 else model.code_dim
        log.warning("data has %d pixels: the default 784-1000-500-250-30 autoencoder becomes %s (set model.hidden "
                    "and model.code_dim to choose)", d, "-".join(map(str, (d, *default_hidden(d), code))))
        return dataclasses.replace(model, input_dim=d, hidden=default_hidden(d), code_dim=code)
    return model


def pretrained_autoencoder(kind: Literal["dbn", "stacked"], model_cfg: AutoencoderConfig, x: torch.Tensor,
                           train: TrainConfig) -> DeepAutoencoder:
    """Greedy layer-wise pretraining of ``model_cfg``'s widths on ``x``, unrolled into a deep autoencoder.

    ``dbn``: a stack of RBMs (Hinton & Salakhutdinov 2006; binary hidden units, a Gaussian top
    layer when the code is linear, trained at ``train.lr x DBNConfig.gaussian_lr_scale``), unrolled
    into sigmoid units. ``stacked``: shallow denoising autoencoders with ``model_cfg``'s units.
    Each layer is one Trainer run in ``{train.output_dir}/layer-{i}``.
    """
    if kind == "dbn":
        stack = DBNStack(DBNConfig(widths=model_cfg.widths, visible=model_cfg.output,
                                   top_hidden="gaussian" if model_cfg.code_activation == "linear" else "bernoulli",
                                   seed=train.seed))
        pretrain_dbn(stack, x.flatten(1), train)
        return stack.unroll()
    sae = StackedAEConfig(widths=model_cfg.widths, activation=model_cfg.activation, init=model_cfg.init,
                          output=model_cfg.output, noise=max(model_cfg.noise, 0.2))
    return pretrain_stacked_autoencoder(sae, x.flatten(1), train)[0]


def run_autoencoder(cfg: AutoencoderRunConfig) -> AutoencoderResult:
    """Train (optionally pretrain) a deep autoencoder, compare with PCA, write figures."""
    train_ds, test_ds = load_split(cfg.data, "train"), load_split(cfg.data, "test")
    model_cfg = _fit_input_dim(cfg.model, train_ds)
    out = Path(cfg.train.output_dir)
    model = None
    if cfg.pretrain != "none":
        if cfg.pretrain == "dbn" and (model_cfg.activation, model_cfg.init) != ("sigmoid", "small_gaussian"):
            log.warning("pretrain=dbn: the unrolled RBM stack has sigmoid units initialised from the RBM weights, so "
                        "model.activation=%r and model.init=%r are not used (Hinton & Salakhutdinov 2006)",
                        model_cfg.activation, model_cfg.init)
        pre = dataclasses.replace(cfg.pretrain_train, output_dir=str(out / "pretrain"), resume=cfg.train.resume)
        model = pretrained_autoencoder(cfg.pretrain, model_cfg, train_ds.x, pre)
        model_cfg = model.config
    before = None
    if model is not None:  # the unrolled stack before fine-tuning
        before = ev.squared_error_per_image(test_ds.x, reconstruct_dataset(model, test_ds.x))
    objective = AutoencoderObjective(model_cfg, model)
    result = Trainer(objective, cfg.train, train_ds, eval_data=test_ds).fit()
    evaluation = evaluate_autoencoder(objective.model, train_ds, test_ds, out)
    evaluation.update(data=cfg.data.name, pretrain=cfg.pretrain, steps=result.step)
    if before is not None:
        evaluation["pretrained_test_sq_err_per_image_before_finetune"] = before
    write_json(out / "evaluation.json", evaluation)
    return AutoencoderResult(evaluation, objective.model, out)


def evaluate_autoencoder(model: DeepAutoencoder, train_ds: ArrayDataset, test_ds: ArrayDataset,
                         out: Path | None = None, probe: bool = True) -> dict[str, Any]:
    """Test squared error per image of the AE and of PCA (same code size), code probes, figures."""
    k = model.config.code_dim
    recon = reconstruct_dataset(model, test_ds.x)
    pca_recon, pca_codes, pca = ev.pca_reconstruction(train_ds.x, test_ds.x, k)
    evaluation: dict[str, Any] = {
        "test_sq_err_per_image": ev.squared_error_per_image(test_ds.x, recon),
        f"pca{k}_test_sq_err_per_image": ev.squared_error_per_image(test_ds.x, pca_recon),
        "code_dim": k, "activation": model.config.activation, "init": model.config.init,
    }
    if probe:
        scores = ev.code_probe(encode_dataset(model, train_ds.x), train_ds.y,
                               encode_dataset(model, test_ds.x), test_ds.y)
        pca_train_codes = torch.from_numpy(pca.transform(train_ds.x.flatten(1).double().numpy())).float()
        pca_scores = ev.code_probe(pca_train_codes, train_ds.y, pca_codes, test_ds.y)
        evaluation.update(knn_acc=scores.knn, linear_probe_acc=scores.linear,
                          pca_knn_acc=pca_scores.knn, pca_linear_probe_acc=pca_scores.linear)
    if out is not None:
        shape = _image_shape(test_ds)
        idx = torch.arange(min(10, len(test_ds)))
        ev.save_image_rows({"original": test_ds.x[idx], f"PCA {k}": pca_recon[idx],
                            f"deep AE {k}": recon[idx]}, shape, out / "reconstructions.png",
                           title=f"test reconstructions; squared error per image: PCA "
                                 f"{evaluation[f'pca{k}_test_sq_err_per_image']:.2f}, deep AE "
                                 f"{evaluation['test_sq_err_per_image']:.2f}")
        steps, values = ev.read_metric_curve(out, "sq_err")
        ev.save_curves({"deep AE (train batches)": (steps, values)}, out / "training_curve.png",
                       ylabel="squared error per image",
                       hlines={f"PCA {k} (test)": evaluation[f"pca{k}_test_sq_err_per_image"]})
    return evaluation


PRETRAINED_INITS = ("dbn", "stacked")  # variant inits that mean greedy pretraining, not a random scheme


def _stacked_train(output_dir: str = "runs/run") -> TrainConfig:
    return TrainConfig(output_dir=output_dir, optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=100,
                       max_steps=1200, save_every=None, log_every=50)


@dataclass
class InitComparisonRunConfig:
    """``reprlab autoencoder compare-init``: the same deep AE with different units/initialisations.

    A variant is ``activation:init`` with ``init`` one of the random schemes (``small_gaussian``,
    ``kaiming``, ``xavier``, ``torch_default``) or ``dbn`` / ``stacked``: greedy RBM or
    denoising-autoencoder pretraining (``pretrain_train`` / ``stacked_train`` per layer), unrolled,
    then the same fine-tuning (``train``) as every other variant.
    """

    data: DataSpec = field(default_factory=DataSpec)
    variants: tuple[str, ...] = ("sigmoid:small_gaussian", "relu:kaiming", "tanh:xavier")  # activation:init
    model: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        output_dir="runs/autoencoder-init", optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=256,
        max_steps=2350, save_every=None, log_every=25))
    pretrain_train: TrainConfig = field(default_factory=_rbm_train)  # each RBM of a dbn variant
    stacked_train: TrainConfig = field(default_factory=_stacked_train)  # each shallow AE of a stacked variant
    validation: int = 0  # >0: hold out the last N training images and report their error too (choose settings on it)


@dataclass
class InitComparisonResult:
    """Test squared error per variant and of PCA (also in ``evaluation.json``)."""

    evaluation: dict[str, Any]
    run_dir: Path

    def summary(self) -> str:
        """One line per variant with its test error, then PCA's."""
        e = self.evaluation
        pca = next(k for k in e if k.startswith("pca"))
        lines = [f"{variant:24s} test squared error per image {err:.2f}"
                 for variant, err in e["test_sq_err_per_image"].items()]
        return "\n".join(lines + [f"{pca.split('_')[0].upper():24s} test squared error per image {e[pca]:.2f}"])


def run_init_comparison(cfg: InitComparisonRunConfig) -> InitComparisonResult:
    """Train one deep AE per ``activation:init`` variant; plot their curves against PCA.

    Pretrained variants (``init`` in ``dbn``, ``stacked``) are pretrained layer by layer, unrolled
    and then fine-tuned with ``cfg.train`` like the others; their error before fine-tuning is
    reported too. With ``validation=N`` the last N training images are held out of every run and
    their error is reported beside the test error (settings are chosen on it, never on test).
    """
    train_ds, test_ds = load_split(cfg.data, "train"), load_split(cfg.data, "test")
    val_ds = None
    if cfg.validation:
        if not 0 < cfg.validation < len(train_ds):
            raise ConfigError(f"validation={cfg.validation}: must leave training images "
                              f"(the training split has {len(train_ds)})")
        idx = torch.arange(len(train_ds))
        train_ds, val_ds = train_ds.subset(idx[:-cfg.validation]), train_ds.subset(idx[-cfg.validation:])
    base = _fit_input_dim(cfg.model, train_ds)
    out = Path(cfg.train.output_dir)
    curves: dict[str, tuple[list[int], list[float]]] = {}
    results: dict[str, float] = {}
    extra: dict[str, dict[str, float]] = {}
    for variant in cfg.variants:
        act, _, init = variant.partition(":")
        run_dir = out / variant.replace(":", "-")
        model = None
        torch.manual_seed(cfg.train.seed)  # initial weights: torch's default generator is not seeded at start-up
        if init in PRETRAINED_INITS:
            if init == "dbn" and act != "sigmoid":
                raise ConfigError(f"variants: {variant!r}: an RBM stack unrolls into sigmoid units; "
                                  "write 'sigmoid:dbn'")
            model_cfg = dataclasses.replace(base, activation=cast(Activation, act))
            pre_cfg = cfg.pretrain_train if init == "dbn" else cfg.stacked_train
            pre = dataclasses.replace(pre_cfg, output_dir=str(run_dir / "pretrain"), resume=cfg.train.resume)
            model = pretrained_autoencoder(cast(Literal["dbn", "stacked"], init), model_cfg, train_ds.x, pre)
            model_cfg = model.config
            extra.setdefault("before_finetune_test_sq_err_per_image", {})[variant] = \
                ev.squared_error_per_image(test_ds.x, reconstruct_dataset(model, test_ds.x))
            label = f"{model_cfg.activation}, {init}-pretrained"
        else:
            # AutoencoderConfig checks both names (one line naming the bad one)
            model_cfg = dataclasses.replace(base, activation=cast(Activation, act), init=cast(Init, init or base.init))
            label = f"{act} + {model_cfg.init} init"
        objective = AutoencoderObjective(model_cfg, model)
        Trainer(objective, dataclasses.replace(cfg.train, output_dir=str(run_dir)), train_ds).fit()
        err = ev.squared_error_per_image(test_ds.x, reconstruct_dataset(objective.model, test_ds.x))
        results[variant] = err
        if val_ds is not None:
            extra.setdefault("validation_sq_err_per_image", {})[variant] = \
                ev.squared_error_per_image(val_ds.x, reconstruct_dataset(objective.model, val_ds.x))
        curves[f"{label} (test {err:.2f})"] = ev.read_metric_curve(run_dir, "sq_err")
    k = base.code_dim
    pca_recon, _, _ = ev.pca_reconstruction(train_ds.x, test_ds.x, k)
    pca_err = ev.squared_error_per_image(test_ds.x, pca_recon)
    ev.save_curves(curves, out / "init_comparison.png", ylabel="squared error per image (train batches)",
                   hlines={f"PCA {k} (test {pca_err:.2f})": pca_err},
                   title=f"{cfg.data.name}: deep AE {'-'.join(map(str, base.widths))}, fine-tuning end to end")
    evaluation = {"data": cfg.data.name, "widths": list(base.widths), "test_sq_err_per_image": results,
                  f"pca{k}_test_sq_err_per_image": pca_err, "steps": cfg.train.max_steps, **extra}
    write_json(out / "evaluation.json", evaluation)
    return InitComparisonResult(evaluation, out)


# -------------------------------------------------------------------- RBM
@dataclass
class RBMRunConfig:
    """``reprlab rbm train``: one RBM (or a DBN with ``widths``), AIS log-likelihood in nats."""

    data: DataSpec = field(default_factory=DataSpec)
    binarize: bool = True  # threshold pixels at 0.5 so log p(v) is a proper Bernoulli likelihood
    widths: tuple[int, ...] = ()  # non-empty: greedy DBN with these sizes (visible first); bound per layer
    eval_limit: int = 2000  # test images used for the log-likelihood
    ais_chains: int = 100
    ais_steps: int = 14500  # Salakhutdinov & Murray (2008) use 14,500 intermediate distributions
    ais_runs: int = 2  # independent AIS runs per layer: their spread shows whether log Z can be trusted
    transpose_init: bool = True  # DBN: start an RBM as the one below transposed when the sizes allow
    propagate: Literal["mean", "sample"] = "mean"  # DBN: each RBM trains on the hidden means or binary draws below
    model: RBMConfig = field(default_factory=RBMConfig)
    train: TrainConfig = field(default_factory=lambda: _rbm_train("runs/rbm"))

    def __post_init__(self) -> None:
        check_choices(self)
        if self.ais_runs < 1:
            raise ConfigError(f"ais_runs={self.ais_runs}: need at least one AIS run")


@dataclass
class RBMResult:
    """Log-likelihoods per layer (also in ``evaluation.json``) and the trained RBMs, bottom first."""

    evaluation: dict[str, Any]
    rbms: list[RBM] = field(repr=False)
    run_dir: Path

    def summary(self) -> str:
        """One line per layer: the AIS estimate of log Z and the test log-likelihood (bound), in nats."""
        lines = []
        for row in self.evaluation["layers"]:
            lo, hi = row["log_z_band"]
            ll = (f"test log-likelihood {row['test_log_likelihood_nats']:.2f} nats (train "
                  f"{row['train_log_likelihood_nats']:.2f})" if "test_log_likelihood_nats" in row else
                  f"test log-likelihood bound {row['test_log_likelihood_bound_nats']:.2f} nats")
            lines.append(f"{row['layers']} layer(s): {ll}; AIS log Z {row['log_z']:.2f} [{lo:.2f}, {hi:.2f}]")
        return "\n".join(lines)


def _rbm_data(ds: ArrayDataset, visible: str, binarize: bool,
              stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, tuple]:
    x = ds.x.flatten(1)
    if visible == "gaussian":  # unit-variance Gaussian units need standardised pixels
        mean, std = stats if stats is not None else (x.mean(0), x.std(0).clamp_min(1e-2))
        return (x - mean) / std, (mean, std)
    return ((x > 0.5).float() if binarize else x), (x.new_zeros(0), x.new_zeros(0))


def run_rbm(cfg: RBMRunConfig) -> RBMResult:
    """Train an RBM by CD-k/PCD-k (or a greedy DBN), estimate log Z by AIS, report nats and figures."""
    train_ds, test_ds = load_split(cfg.data, "train"), load_split(cfg.data, "test").head(cfg.eval_limit)
    out = Path(cfg.train.output_dir)
    d = int(train_ds.x[0].numel())
    x_train, stats = _rbm_data(train_ds, cfg.model.visible, cfg.binarize)
    x_test, _ = _rbm_data(test_ds, cfg.model.visible, cfg.binarize, stats)
    g = torch.Generator().manual_seed(cfg.train.seed)
    if cfg.widths:
        if cfg.widths[0] != d:
            raise ConfigError(f"widths={list(cfg.widths)}: the first width must be the data size {d}")
        stack = DBNStack(DBNConfig(widths=cfg.widths, visible=cfg.model.visible, top_hidden="bernoulli",
                                   k=cfg.model.k, persistent=cfg.model.persistent,
                                   n_chains=cfg.model.n_chains, init_std=cfg.model.init_std,
                                   transpose_init=cfg.transpose_init, propagate=cfg.propagate))
        pretrain_dbn(stack, x_train, cfg.train, train_ds.y)
        rbms = stack.layers
    else:
        model = dataclasses.replace(cfg.model, n_visible=d) if cfg.model.n_visible == 784 else cfg.model
        objective = RBMObjective(model)
        Trainer(objective, cfg.train, ArrayDataset(x_train, train_ds.y)).fit()
        rbms = [objective.rbm]
    evaluation: dict[str, Any] = {"data": cfg.data.name, "binarized": cfg.binarize, "layers": []}
    inputs = x_train
    for depth, rbm in enumerate(rbms, start=1):
        rbm.eval()
        runs = [ais_log_partition(rbm, n_chains=cfg.ais_chains, n_steps=cfg.ais_steps, data=inputs,
                                  generator=g) for _ in range(cfg.ais_runs)]  # independent: g moves on
        log_zs = [r.log_z for r in runs]
        log_z = float(torch.logsumexp(torch.tensor(log_zs, dtype=torch.float64), 0)) - math.log(len(runs))
        # the bound is linear in log Z: one set of sampled hidden layers, one value per AIS run
        rest = float(dbn_log_likelihood_bound(rbms[:depth], x_test, 0.0, generator=g).mean())
        row = {"layers": depth, "log_z": log_z, "log_z_runs": log_zs,
               "ais_spread_nats": max(log_zs) - min(log_zs),
               "log_z_band": [min(r.log_z_lower for r in runs), max(r.log_z_upper for r in runs)],
               "test_log_likelihood_bound_nats": rest - log_z,
               "test_log_likelihood_bound_runs": [rest - z for z in log_zs]}
        if depth == 1:
            row["train_log_likelihood_nats"] = average_log_likelihood(rbm, x_train[:cfg.eval_limit], log_z)
            row["test_log_likelihood_nats"] = average_log_likelihood(rbm, x_test, log_z)
        log.info("layer %d: log Z %s, test bound %.2f nats", depth, [round(z, 2) for z in log_zs], rest - log_z)
        evaluation["layers"].append(row)
        with torch.no_grad():
            inputs = rbm.hidden_mean(inputs)
    first = rbms[0]
    with torch.no_grad():
        evaluation["test_recon_sq_err_per_image"] = ev.squared_error_per_image(x_test, first.reconstruct(x_test))
        shape = _image_shape(train_ds)
        filters = first.W.t()[:100]  # (100, D)
        lo = filters.amin(1, keepdim=True)
        hi = filters.amax(1, keepdim=True)
        ev.save_image_grid((filters - lo) / (hi - lo + 1e-8), shape, out / "filters.png",
                           title="first-layer RBM weights (one hidden unit per tile)")
        chain = first.gibbs(x_test[:20], k=1000, generator=g)
        ev.save_image_grid(first.visible_mean(first.sample_hidden(chain, g)) if cfg.model.visible == "bernoulli"
                           else chain * stats[1] + stats[0], shape, out / "samples.png",
                           title="samples after 1,000 Gibbs steps from test images")
    write_json(out / "evaluation.json", evaluation)
    return RBMResult(evaluation, rbms, out)


# -------------------------------------------------------------------- VAE
@dataclass
class VAERunConfig:
    """``reprlab vae train``: ELBO training, IWAE test log-likelihood, samples/interpolations/latent map."""

    data: DataSpec = field(default_factory=DataSpec)
    iwae_k: int = 5000  # importance samples per test image (Burda et al. 2016 use 5,000)
    eval_limit: int = 1000  # test images for the ELBO/IWAE figures
    model: VAEConfig = field(default_factory=VAEConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        output_dir="runs/vae", optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=100, max_steps=6000,
        save_every=1000, log_every=50))


@dataclass
class VAEResult:
    """Test ELBO and IWAE log-likelihood (also in ``evaluation.json``) and the trained VAE."""

    evaluation: dict[str, Any]
    model: VAE = field(repr=False)
    run_dir: Path

    def summary(self) -> str:
        """One line: the test ELBO with its two terms and the IWAE estimate of log p(x), nats per image."""
        e = self.evaluation
        iwae = next(k for k in e if k.startswith("iwae_k"))
        return (f"VAE ({e['latent_dim']}-d latent) on {e['data']}: test ELBO {e['elbo']:.2f} nats = -(reconstruction NLL "
                f"{e['recon_nll']:.2f} + KL {e['kl']:.2f}); IWAE log p(x) (k={iwae[6:]}) {e[iwae]:.2f} nats")


def run_vae(cfg: VAERunConfig) -> VAEResult:
    """Train a VAE; report test ELBO (two terms) and IWAE log p(x); write figures."""
    train_ds, test_ds = load_split(cfg.data, "train"), load_split(cfg.data, "test").head(cfg.eval_limit)
    d = int(train_ds.x[0].numel())
    model_cfg = dataclasses.replace(cfg.model, input_dim=d) if cfg.model.input_dim == 784 and d != 784 else cfg.model
    objective = VAEObjective(model_cfg)
    Trainer(objective, cfg.train, train_ds, eval_data=test_ds).fit()
    model, out = objective.model, Path(cfg.train.output_dir)
    evaluation: dict[str, Any] = {"data": cfg.data.name, "latent_dim": model_cfg.latent_dim,
                                  **evaluate_vae(model, test_ds.x, k=cfg.iwae_k, seed=cfg.train.seed)}
    shape = _image_shape(train_ds)
    g = torch.Generator().manual_seed(cfg.train.seed)
    model.eval()
    with torch.no_grad():
        ev.save_image_grid(model.sample(100, g), shape, out / "samples.png", title="samples E[x|z], z ~ N(0, I)")
        rows = [interpolate(model, test_ds.x[2 * i], test_ds.x[2 * i + 1], 10) for i in range(6)]
        ev.save_image_grid(torch.cat(rows), shape, out / "interpolation.png", ncols=10,
                           title="latent interpolation between pairs of test images")
        mu, _ = model.encode(test_ds.x.flatten(1).to(model.to_mu.weight))
        if model_cfg.latent_dim == 2:
            codes, label, names = mu.cpu(), "posterior means", ("z1 (posterior mean)", "z2 (posterior mean)")
            ev.save_image_grid(latent_grid(model), shape, out / "latent_grid.png", ncols=15,
                               title="decoded means over the 2-D latent space")
        else:
            centred = mu.cpu() - mu.cpu().mean(0)
            codes = centred @ torch.linalg.svd(centred, full_matrices=False)[2][:2].t()
            label = f"first two principal components of the {model_cfg.latent_dim}-d posterior means"
            names = ("PC 1 of the posterior means", "PC 2 of the posterior means")
        ev.save_latent_map(codes, test_ds.y, out / "latent_map.png", test_ds.classes,
                           title=f"{cfg.data.name}: {label}", axes=names)
    curves = {k: ev.read_metric_curve(out, k) for k in ("recon_nll", "kl")}
    ev.save_curves(curves, out / "elbo_terms.png", ylabel="nats per image", title="-ELBO = recon_nll + kl")
    write_json(out / "evaluation.json", evaluation)
    return VAEResult(evaluation, model, out)


# ------------------------------------------------------------------- demo
def demo(out_dir: Path) -> str:
    """Digits in well under a minute: a small deep AE vs PCA (10-d codes) and a tiny RBM with AIS."""
    from reprlab.train import torch_threads

    out = Path(out_dir) / "generative"
    with torch_threads(1):  # tiny models: one thread is faster, and kinder to a shared machine
        train, test = load_dataset("digits"), load_dataset("digits", "test")
        torch.manual_seed(0)
        ae = AutoencoderObjective(AutoencoderConfig(input_dim=64, hidden=(128, 64), code_dim=10))
        Trainer(ae, TrainConfig(output_dir=str(out / "autoencoder"), optimizer="adam", lr=3e-3,
                                weight_decay=0.0, batch_size=64, max_steps=500, save_every=None,
                                progress=False, log_every=50), train).fit()
        recon = reconstruct_dataset(ae.model, test.x)
        pca_recon, _, _ = ev.pca_reconstruction(train.x, test.x, 10)
        err, pca_err = ev.squared_error_per_image(test.x, recon), ev.squared_error_per_image(test.x, pca_recon)
        idx = torch.arange(10)
        ev.save_image_rows({"original": test.x[idx], "PCA 10": pca_recon[idx], "deep AE 10": recon[idx]},
                           (8, 8), out / "reconstructions.png",
                           title=f"digits test: squared error per image PCA {pca_err:.2f}, deep AE {err:.2f}")
        xb, xb_test = (train.x.flatten(1) > 0.5).float(), (test.x.flatten(1) > 0.5).float()
        rbm = RBMObjective(RBMConfig(n_visible=64, n_hidden=32, persistent=True, n_chains=64, init_std=0.05))
        Trainer(rbm, TrainConfig(output_dir=str(out / "rbm"), optimizer="sgd", lr=0.05, momentum=0.9,
                                 weight_decay=1e-4, max_grad_norm=None, batch_size=64, max_steps=400,
                                 save_every=None, progress=False, log_every=50), ArrayDataset(xb, train.y)).fit()
        ais = ais_log_partition(rbm.rbm, n_chains=64, n_steps=1500, data=xb,
                                generator=torch.Generator().manual_seed(0))
        ll = average_log_likelihood(rbm.rbm, xb_test, ais.log_z)
    return (f"generative: digits test squared error per image, deep AE {err:.2f} vs PCA {pca_err:.2f} "
            f"(10-d codes); RBM 64-32 (PCD-1) test log p(v) {ll:.1f} nats by AIS; figures in {out}")


__all__ = ["AutoencoderRunConfig", "AutoencoderResult", "InitComparisonRunConfig", "InitComparisonResult",
           "RBMRunConfig", "RBMResult", "VAERunConfig", "VAEResult", "run_autoencoder", "run_init_comparison",
           "run_rbm", "run_vae", "evaluate_autoencoder", "pretrained_autoencoder", "PRETRAINED_INITS", "demo"]
