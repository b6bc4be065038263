"""End-to-end runs behind ``reprlab autoencoder|rbm|vae``: train, evaluate, write metrics and figures.

Each ``run_*`` function takes one nested dataclass config (data set, model, ``train:
TrainConfig``), trains through the shared Trainer into ``train.output_dir`` and adds
``evaluation.json`` plus PNG figures there. They return the evaluation dict.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from reprlab.data import ArrayDataset, load_dataset
from reprlab.errors import ConfigError
from reprlab.io import write_json
from reprlab.train import TrainConfig, Trainer
from reprlab.vision.generative import evaluation as ev
from reprlab.vision.generative.ais import ais_log_partition, average_log_likelihood
from reprlab.vision.generative.autoencoder import (AutoencoderConfig, AutoencoderObjective, DeepAutoencoder,
                                        encode_dataset, reconstruct_dataset)
from reprlab.vision.generative.rbm import RBMConfig, RBMObjective
from reprlab.vision.generative.stacked import (DBNConfig, DBNStack, StackedAEConfig, dbn_log_likelihood_bound,
                                    pretrain_dbn, pretrain_stacked_autoencoder)
from reprlab.vision.generative.vae import VAEConfig, VAEObjective, evaluate_vae, interpolate, latent_grid

log = logging.getLogger(__name__)


def _rbm_train() -> TrainConfig:
    return TrainConfig(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=2e-4, max_grad_norm=None,
                       batch_size=100, max_steps=3000, save_every=1000, progress=False)


def load_split(data: str, split: str, path: str | None, limit: int | None = None) -> ArrayDataset:
    """A named data set split, optionally cut to its first ``limit`` images."""
    ds = load_dataset(data, split, path)
    return ds.subset(torch.arange(min(limit, len(ds)))) if limit else ds


def _image_shape(ds: ArrayDataset) -> tuple[int, int]:
    return tuple(ds.x.shape[-2:])  # type: ignore[return-value]


# ------------------------------------------------------------- autoencoder
@dataclass
class AutoencoderRun:
    """``reprlab autoencoder train``: a deep autoencoder vs PCA with the same code size."""

    data: str = "digits"  # digits | fashion-mnist | mnist | a directory of IDX files
    data_path: str | None = None  # directory overriding the data set's default location
    train_limit: int | None = None  # use only the first N training images (quick runs)
    pretrain: str = "none"  # none | dbn (stacked RBMs, Hinton & Salakhutdinov 2006) | stacked (denoising AEs)
    model: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=256, max_steps=2350, save_every=500,
        progress=False, log_every=50))
    pretrain_train: TrainConfig = field(default_factory=_rbm_train)  # per-layer runs of the pretraining


def _fit_input_dim(model: AutoencoderConfig, ds: ArrayDataset) -> AutoencoderConfig:
    d = int(ds.x[0].numel())
    if model.input_dim == 784 and d != 784 and model.hidden == (1000, 500, 250):
        log.info("data has %d pixels: scaling the default 784-1000-500-250 widths", d)
        from reprlab.vision.generative.autoencoder import default_hidden
        return dataclasses.replace(model, input_dim=d, hidden=default_hidden(d))
    return model


def run_autoencoder(cfg: AutoencoderRun) -> dict[str, Any]:
    """Train (optionally pretrain) a deep autoencoder, compare with PCA, write figures."""
    if cfg.pretrain not in ("none", "dbn", "stacked"):
        raise ConfigError(f"pretrain={cfg.pretrain!r}: choose none, dbn or stacked")
    train_ds = load_split(cfg.data, "train", cfg.data_path, cfg.train_limit)
    test_ds = load_split(cfg.data, "test", cfg.data_path)
    model_cfg = _fit_input_dim(cfg.model, train_ds)
    out = Path(cfg.train.output_dir)
    model = None
    if cfg.pretrain == "dbn":
        stack = DBNStack(DBNConfig(widths=model_cfg.widths, visible=model_cfg.output,
                                   top_hidden="gaussian" if model_cfg.code_activation == "linear" else "bernoulli"))
        pre = dataclasses.replace(cfg.pretrain_train, output_dir=str(out / "pretrain"), resume=cfg.train.resume)
        pretrain_dbn(stack, train_ds.x.flatten(1), pre)
        model = stack.unroll()
        model_cfg = model.config
    elif cfg.pretrain == "stacked":
        sae = StackedAEConfig(widths=model_cfg.widths, activation=model_cfg.activation, init=model_cfg.init,
                              output=model_cfg.output, noise=max(model_cfg.noise, 0.2))
        pre = dataclasses.replace(cfg.pretrain_train, output_dir=str(out / "pretrain"), resume=cfg.train.resume)
        model, _ = pretrain_stacked_autoencoder(sae, train_ds.x.flatten(1), pre)
        model_cfg = model.config
    before = None
    if model is not None:  # the unrolled stack before fine-tuning
        before = ev.squared_error_per_image(test_ds.x, reconstruct_dataset(model, test_ds.x))
    objective = AutoencoderObjective(model_cfg, model)
    result = Trainer(objective, cfg.train, train_ds, eval_data=test_ds).fit()
    evaluation = evaluate_autoencoder(objective.model, train_ds, test_ds, out)
    evaluation.update(data=cfg.data, pretrain=cfg.pretrain, steps=result.step)
    if before is not None:
        evaluation["pretrained_test_sq_err_per_image_before_finetune"] = before
    write_json(out / "evaluation.json", evaluation)
    return evaluation


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


@dataclass
class InitComparisonRun:
    """``reprlab autoencoder compare-init``: the same deep AE with different units/initialisations."""

    data: str = "digits"
    data_path: str | None = None
    train_limit: int | None = None
    variants: tuple[str, ...] = ("sigmoid:small_gaussian", "relu:kaiming", "tanh:xavier")  # activation:init
    model: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=256, max_steps=2350, save_every=None,
        progress=False, log_every=25))


def run_init_comparison(cfg: InitComparisonRun) -> dict[str, Any]:
    """Train one deep AE per ``activation:init`` variant; plot their curves against PCA."""
    train_ds = load_split(cfg.data, "train", cfg.data_path, cfg.train_limit)
    test_ds = load_split(cfg.data, "test", cfg.data_path)
    base = _fit_input_dim(cfg.model, train_ds)
    out = Path(cfg.train.output_dir)
    curves, results = {}, {}
    for variant in cfg.variants:
        act, _, init = variant.partition(":")
        model_cfg = dataclasses.replace(base, activation=act, init=init or base.init)
        run_dir = out / variant.replace(":", "-")
        objective = AutoencoderObjective(model_cfg)
        Trainer(objective, dataclasses.replace(cfg.train, output_dir=str(run_dir)), train_ds).fit()
        err = ev.squared_error_per_image(test_ds.x, reconstruct_dataset(objective.model, test_ds.x))
        results[variant] = err
        curves[f"{act} + {model_cfg.init} init (test {err:.2f})"] = ev.read_metric_curve(run_dir, "sq_err")
    k = base.code_dim
    pca_recon, _, _ = ev.pca_reconstruction(train_ds.x, test_ds.x, k)
    pca_err = ev.squared_error_per_image(test_ds.x, pca_recon)
    ev.save_curves(curves, out / "init_comparison.png", ylabel="squared error per image (train batches)",
                   hlines={f"PCA {k} (test {pca_err:.2f})": pca_err},
                   title=f"{cfg.data}: deep AE {'-'.join(map(str, base.widths))} trained end to end")
    evaluation = {"data": cfg.data, "widths": list(base.widths), "test_sq_err_per_image": results,
                  f"pca{k}_test_sq_err_per_image": pca_err, "steps": cfg.train.max_steps}
    write_json(out / "evaluation.json", evaluation)
    return evaluation


# -------------------------------------------------------------------- RBM
@dataclass
class RBMRun:
    """``reprlab rbm train``: one RBM (or a DBN with ``widths``), AIS log-likelihood in nats."""

    data: str = "digits"
    data_path: str | None = None
    train_limit: int | None = None
    binarize: bool = True  # threshold pixels at 0.5 so log p(v) is a proper Bernoulli likelihood
    widths: tuple[int, ...] = ()  # non-empty: greedy DBN with these sizes (visible first); bound per layer
    eval_limit: int = 2000  # test images used for the log-likelihood
    ais_chains: int = 100
    ais_steps: int = 14500  # Salakhutdinov & Murray (2008) use 14,500 intermediate distributions
    model: RBMConfig = field(default_factory=RBMConfig)
    train: TrainConfig = field(default_factory=_rbm_train)


def _rbm_data(ds: ArrayDataset, visible: str, binarize: bool,
              stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, tuple]:
    x = ds.x.flatten(1)
    if visible == "gaussian":  # unit-variance Gaussian units need standardised pixels
        mean, std = stats if stats is not None else (x.mean(0), x.std(0).clamp_min(1e-2))
        return (x - mean) / std, (mean, std)
    return ((x > 0.5).float() if binarize else x), (x.new_zeros(0), x.new_zeros(0))


def run_rbm(cfg: RBMRun) -> dict[str, Any]:
    """Train an RBM by CD-k/PCD-k (or a greedy DBN), estimate log Z by AIS, report nats and figures."""
    train_ds = load_split(cfg.data, "train", cfg.data_path, cfg.train_limit)
    test_ds = load_split(cfg.data, "test", cfg.data_path, cfg.eval_limit)
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
                                   n_chains=cfg.model.n_chains, init_std=cfg.model.init_std))
        pretrain_dbn(stack, x_train, cfg.train, train_ds.y)
        rbms = list(stack.rbms)
    else:
        model = dataclasses.replace(cfg.model, n_visible=d) if cfg.model.n_visible == 784 else cfg.model
        objective = RBMObjective(model)
        Trainer(objective, cfg.train, ArrayDataset(x_train, train_ds.y)).fit()
        rbms = [objective.rbm]
    evaluation: dict[str, Any] = {"data": cfg.data, "binarized": cfg.binarize, "layers": []}
    inputs = x_train
    for depth, rbm in enumerate(rbms, start=1):
        rbm.eval()
        ais = ais_log_partition(rbm, n_chains=cfg.ais_chains, n_steps=cfg.ais_steps, data=inputs,
                                generator=g)
        bound_test = dbn_log_likelihood_bound(rbms[:depth], x_test, ais.log_z, generator=g).mean()
        row = {"layers": depth, "log_z": ais.log_z, "log_z_band": [ais.log_z_lower, ais.log_z_upper],
               "test_log_likelihood_bound_nats": float(bound_test)}
        if depth == 1:
            row["train_log_likelihood_nats"] = average_log_likelihood(rbm, x_train[:cfg.eval_limit], ais.log_z)
            row["test_log_likelihood_nats"] = average_log_likelihood(rbm, x_test, ais.log_z)
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
    return evaluation


# -------------------------------------------------------------------- VAE
@dataclass
class VAERun:
    """``reprlab vae train``: ELBO training, IWAE test log-likelihood, samples/interpolations/latent map."""

    data: str = "digits"
    data_path: str | None = None
    train_limit: int | None = None
    iwae_k: int = 5000  # importance samples per test image (Burda et al. 2016 use 5,000)
    eval_limit: int = 1000  # test images for the ELBO/IWAE figures
    model: VAEConfig = field(default_factory=VAEConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=100, max_steps=6000, save_every=1000,
        progress=False, log_every=50))


def run_vae(cfg: VAERun) -> dict[str, Any]:
    """Train a VAE; report test ELBO (two terms) and IWAE log p(x); write figures."""
    train_ds = load_split(cfg.data, "train", cfg.data_path, cfg.train_limit)
    test_ds = load_split(cfg.data, "test", cfg.data_path, cfg.eval_limit)
    d = int(train_ds.x[0].numel())
    model_cfg = dataclasses.replace(cfg.model, input_dim=d) if cfg.model.input_dim == 784 and d != 784 else cfg.model
    objective = VAEObjective(model_cfg)
    Trainer(objective, cfg.train, train_ds, eval_data=test_ds).fit()
    model, out = objective.model, Path(cfg.train.output_dir)
    evaluation: dict[str, Any] = {"data": cfg.data, "latent_dim": model_cfg.latent_dim,
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
            codes, label = mu.cpu(), "posterior means"
            ev.save_image_grid(latent_grid(model), shape, out / "latent_grid.png", ncols=15,
                               title="decoded means over the 2-D latent space")
        else:
            centred = mu.cpu() - mu.cpu().mean(0)
            codes, label = centred @ torch.linalg.svd(centred, full_matrices=False)[2][:2].t(), \
                "first two principal components of the posterior means"
        ev.save_latent_map(codes, test_ds.y, out / "latent_map.png", test_ds.classes, title=f"{cfg.data}: {label}")
    curves = {k: ev.read_metric_curve(out, k) for k in ("recon_nll", "kl")}
    ev.save_curves(curves, out / "elbo_terms.png", ylabel="nats per image", title="-ELBO = recon_nll + kl")
    write_json(out / "evaluation.json", evaluation)
    return evaluation


__all__ = ["AutoencoderRun", "InitComparisonRun", "RBMRun", "VAERun", "run_autoencoder",
           "run_init_comparison", "run_rbm", "run_vae", "evaluate_autoencoder", "load_split"]
