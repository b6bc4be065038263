"""The demo's image stages (the Hinton talk): deep AE vs PCA, SimCLR, IMAX, and LLE/SNE/t-SNE maps.

Every number a stage reports is computed in the run; the only constants are the published anchors,
which the report labels as such. Data: sklearn digits (always present); the default run uses
Fashion-MNIST for the autoencoder when ``dataset-fashion-mnist`` is installed and says so otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reprlab.demo.stage import StageContext

FEATURES = "features.npz"  # the SimCLR stage's test-set representations, read by the maps stage


def _image_data(ctx: StageContext) -> tuple[str, str]:
    """The autoencoder's data set and a note: Fashion-MNIST in the default run when installed, else digits."""
    import reprlab.data

    if ctx.quick:
        return "digits", "digits (the quick run's data set)"
    if reprlab.data.FASHION_MNIST_DIR.is_dir():
        return "fashion-mnist", "Fashion-MNIST"
    return "digits", ("digits: Fashion-MNIST is not installed (as root: apt-get install -y dataset-fashion-mnist); "
                      "fell back to the bundled sklearn digits")


def generative_stage(ctx: StageContext) -> str:
    """Deep AE vs PCA reconstructions, ReLU vs sigmoid initialisation, VAE samples."""
    import torch

    from reprlab.data import DataSpec
    from reprlab.train import TrainConfig, torch_threads
    from reprlab.vision.generative import (
        AutoencoderConfig,
        AutoencoderRunConfig,
        InitComparisonRunConfig,
        VAEConfig,
        VAERunConfig,
        run_autoencoder,
        run_init_comparison,
        run_vae,
    )

    name, note = _image_data(ctx)
    big = name != "digits"  # the default run's AE vs PCA on Fashion-MNIST; the rest on digits in both sizes
    digits = DataSpec(name="digits")
    small = AutoencoderConfig(input_dim=64, hidden=(128, 64), code_dim=10)
    data = DataSpec(name=name, limit=10000) if big else digits
    model = AutoencoderConfig(input_dim=784, hidden=(500, 250), code_dim=30) if big else small
    steps = ctx.pick(500, 700 if big else 1500)  # default: ~0.13 s per Fashion-MNIST step (10-minute budget)

    def train(sub: str, n: int, lr: float = 3e-3, batch_size: int = 64) -> TrainConfig:
        return TrainConfig(output_dir=str(ctx.out / sub), optimizer="adam", lr=lr, weight_decay=0.0,
                           batch_size=batch_size, max_steps=n, save_every=None, progress=False,
                           log_every=max(10, n // 40))

    with torch_threads(2 if big else 1):
        ctx.part("deep AE")
        # run_autoencoder/run_vae build the model before the Trainer seeds: seed here so two runs agree
        torch.manual_seed(0)
        ae = run_autoencoder(AutoencoderRunConfig(data=data, model=model,
                                                  train=train("autoencoder", steps, batch_size=128 if big else 64)))
    k = model.code_dim
    err, pca_err = ae.evaluation["test_sq_err_per_image"], ae.evaluation[f"pca{k}_test_sq_err_per_image"]
    ctx.metric("ae_sq_err", err)
    ctx.metric("pca_sq_err", pca_err)
    ctx.figure(ae.run_dir / "reconstructions.png", f"{name} test images: original, PCA {k}, deep AE {k}")
    with torch_threads(1):  # tiny models on digits: one thread is faster
        ctx.part("ReLU vs sigmoid")
        torch.manual_seed(0)
        init_steps = ctx.pick(300, 600)
        cmp = run_init_comparison(InitComparisonRunConfig(
            data=digits, model=small, variants=("relu:kaiming", "sigmoid:small_gaussian"),
            train=train("init", init_steps, lr=1e-3)))
        errs = cmp.evaluation["test_sq_err_per_image"]
        ctx.metric("relu_sq_err", errs["relu:kaiming"])
        ctx.metric("sigmoid_sq_err", errs["sigmoid:small_gaussian"])
        ctx.figure(cmp.run_dir / "init_comparison.png", "digits, the same deep AE: ReLU + Kaiming init vs sigmoid + "
                                                        "N(0, 0.01)")
        ctx.part("VAE")
        torch.manual_seed(0)
        vae = run_vae(VAERunConfig(data=digits, iwae_k=ctx.pick(50, 200), eval_limit=ctx.pick(200, 360),
                                   model=VAEConfig(input_dim=64, hidden=(128,), latent_dim=8),
                                   train=train("vae", ctx.pick(400, 1000), lr=1e-3)))
        ctx.figure(vae.run_dir / "samples.png", "digits VAE samples E[x|z], z ~ N(0, I)")
    ve = vae.evaluation
    elbo = {key: v for key, v in ve.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    ctx.table(f"test squared error per image ({note})", ["model", "squared error per image"],
              [[f"deep AE {'-'.join(map(str, (model.input_dim, *model.hidden, k)))} ({steps} steps)", err],
               [f"PCA, {k} components", pca_err],
               [f"digits: ReLU + Kaiming ({init_steps} steps)", errs["relu:kaiming"]],
               [f"digits: sigmoid + N(0, 0.01) ({init_steps} steps)", errs["sigmoid:small_gaussian"]]])
    ctx.table("digits VAE on the test images (nats per image)", ["measure", "value"], [[k_, v] for k_, v in elbo.items()])
    ctx.anchor("MNIST test squared error per image, deep AE vs PCA (30-d codes)", "3.00 vs 13.87",
               "Hinton & Salakhutdinov 2006, Science", f"{err:.2f} vs {pca_err:.2f} ({name}, {k}-d codes)",
               "another data set, code size and a minutes-long training without RBM pretraining; the ordering "
               + ("is the paper's (AE below PCA)" if err < pca_err else "is NOT the paper's here"))
    beat = "beats" if err < pca_err else "does NOT beat"
    return (f"{name}: deep AE {beat} PCA, squared error {err:.2f} vs {pca_err:.2f}; ReLU {errs['relu:kaiming']:.2f} "
            f"vs sigmoid {errs['sigmoid:small_gaussian']:.2f}")


def simclr_stage(ctx: StageContext) -> str:
    """SimCLR on digits: linear and kNN evaluation, 1% labels vs the same CNN trained supervised."""
    import copy

    import numpy as np
    import torch

    from reprlab.data import ArrayDataset, load_dataset
    from reprlab.train import TrainConfig, Trainer, torch_threads
    from reprlab.transfer import (
        class_balanced_indices,
        extract_features,
        fit_classifier,
        knn_accuracy,
        linear_probe,
    )
    from reprlab.vision.contrastive import AugmentConfig, SimCLRConfig, SimCLRObjective

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    steps = ctx.pick(120, 800)
    model_cfg = SimCLRConfig(backbone="small_cnn", in_channels=1, width=16, proj_hidden=64, proj_dim=32,
                             temperature=0.5, seed=0,
                             augment=AugmentConfig(crop_scale=(0.5, 1.0), flip_p=0.0, saturation=0.0, hue=0.0,
                                                   grayscale_p=0.0))
    train_cfg = TrainConfig(output_dir=str(ctx.out / "run"), max_steps=steps, batch_size=128, optimizer="adamw",
                            lr=3e-3, weight_decay=1e-4, schedule="cosine", warmup_steps=steps // 10, seed=0,
                            save_every=None, progress=False, log_every=max(5, steps // 30))
    with torch_threads(1):  # 8x8 images make tiny kernels: one thread is faster (docs/benchmarks.md)
        ctx.part("pretraining")
        torch.manual_seed(0)
        objective = SimCLRObjective(model_cfg)
        random_encoder = copy.deepcopy(objective.encoder)
        t0 = time.perf_counter()
        Trainer(objective, train_cfg, train).fit()
        seconds = time.perf_counter() - t0
        ctx.part("evaluation")
        feats = {}
        for name, enc in (("SimCLR", objective.encoder), ("random init", random_encoder)):
            feats[name] = (extract_features(enc, train)[0], extract_features(enc, test)[0])
        rows = []
        few = class_balanced_indices(train.y, 0.01, seed=0)
        for name, (ftr, fte) in feats.items():
            lin = linear_probe(ftr, train.y, fte, test.y, max_iter=300).accuracy
            knn = knn_accuracy(ftr, train.y, fte, test.y, k=20).accuracy
            few_lin = linear_probe(ftr[few], train.y[few], fte, test.y, max_iter=300).accuracy
            rows.append([name, lin, knn, few_lin])
            ctx.metric(f"{name} linear", lin)
            ctx.metric(f"{name} 1% linear", few_lin)
        ctx.part("supervised 1%")
        small = ArrayDataset(train.x[few], train.y[few])
        sup_cfg = TrainConfig(output_dir=str(ctx.out / "supervised"), max_steps=ctx.pick(150, 400),
                              batch_size=min(len(few), 16), optimizer="adam", lr=3e-3, weight_decay=0.0,
                              save_every=None, progress=False, log_every=50)
        torch.manual_seed(0)
        sup = fit_classifier(copy.deepcopy(random_encoder), objective.feature_dim, 10, small, test, sup_cfg)
        sup_acc = ctx.metric("supervised 1%", sup.accuracy)
        ftr, fte = feats["SimCLR"]
        np.savez(ctx.out / FEATURES, h=fte.numpy(), y=test.y.numpy())
    ctx.table(f"digits test accuracy ({len(train):,} train / {len(test):,} test images; 1% = {len(few)} labels)",
              ["features", "linear probe (all labels)", "kNN k=20 (all labels)", "linear probe (1% labels)"], rows)
    ctx.table("1% labels: frozen SimCLR features vs the same CNN trained supervised on them",
              ["method", "test accuracy"], [["linear probe on SimCLR h", rows[0][3]],
                                            ["supervised from scratch (same CNN)", sup_acc]])
    ctx.curves(ctx.out / "run")
    ctx.figure(_views_figure(ctx, train.x, model_cfg.augment), "two-view augmentations: each row one image, five views")
    ctx.anchor("ImageNet top-1 with 1% of the labels (ResNet-50 4x, fine-tuned)", "85.8% (AlexNet: 63.3% with "
               "all labels)", "Chen et al. 2020, SimCLR, table 7", f"{rows[0][3]:.1%} vs supervised {sup_acc:.1%}",
               "8x8 digits and a tiny CNN for seconds, not ImageNet: the claim tested is only that self-supervised "
               "features + 1% labels " + ("beat" if rows[0][3] > sup_acc else "did NOT beat") +
               " supervised training on the same 1%")
    return (f"SimCLR {steps} steps in {seconds:.0f} s: linear probe {rows[0][1]:.3f} (random init {rows[1][1]:.3f}); "
            f"1% labels {rows[0][3]:.3f} vs supervised {sup_acc:.3f}")


def _views_figure(ctx: StageContext, x, augment) -> Path:
    import torch
    from matplotlib.figure import Figure

    from reprlab.io import save_figure
    from reprlab.vision.contrastive import SimCLRAugment

    aug, gen = SimCLRAugment(augment), torch.Generator().manual_seed(0)
    x = x[:6]
    views = [aug(x, gen) for _ in range(5)]
    fig = Figure(figsize=(7.2, 7.2))
    axes = fig.subplots(6, 6)
    for i in range(6):
        for j, img in enumerate([x[i]] + [v[i] for v in views]):
            axes[i, j].imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1)
            axes[i, j].set_axis_off()
    return save_figure(fig, ctx.out / "views.png", dpi=80)


def imax_stage(ctx: StageContext) -> str:
    """IMAX learns disparity from random-dot stereograms without labels; the Gaussian-assumption failure."""
    import dataclasses

    import torch

    from reprlab.coherence import IMAXConfig, IMAXRunConfig, run_imax
    from reprlab.train import torch_threads

    steps = ctx.pick(400, 1500)
    base = IMAXRunConfig(n_train=ctx.pick(4096, 8192), n_test=1024)
    base.train = dataclasses.replace(base.train, max_steps=steps, output_dir=str(ctx.out / "imax"),
                                     progress=False)  # the stage has its own bar
    with torch_threads(1):
        ctx.part("IMAX")
        torch.manual_seed(0)
        good = run_imax(base)
        ctx.part("overlapping patches")
        bad_cfg = dataclasses.replace(
            base, data=dataclasses.replace(base.data, overlap=base.data.patch_width - 1),
            model=IMAXConfig(module="mlp"),
            train=dataclasses.replace(base.train, output_dir=str(ctx.out / "overlap")))
        torch.manual_seed(0)
        bad = run_imax(bad_cfg)
    r = ctx.metric("abs_r", good.abs_r)
    ctx.metric("overlap_abs_r", bad.abs_r)
    ctx.table("held-out stereograms: what the modules learned",
              ["modules / data", "|r| with true disparity", "IMAX I (Gaussian assumption, nats)", "KSG estimate of I (nats)"],
              [["energy units, non-overlapping patches", good.abs_r, good.imax_nats, good.ksg_nats],
               [f"pixel MLP, patches share {bad_cfg.data.overlap} px", bad.abs_r, bad.imax_nats, bad.ksg_nats]])
    ctx.figure(ctx.out / "imax" / "disparity_scatter.png", "module output vs true disparity (held out)")
    ctx.figure(ctx.out / "imax" / "stereograms.png", "random-dot stereograms (left, right)")
    ctx.anchor("the network learns to output disparity, without labels", "qualitative (no number)",
               "Becker & Hinton 1992, Nature; the talk", f"|r| = {good.abs_r:.3f}",
               "our 1-D planar stereograms, two patches; the talk gives no correlation to compare")
    ctx.anchor("the Gaussian assumption fails for nonlinear modules", "qualitative (no number)", "the talk",
               f"overlap: |r| = {bad.abs_r:.3f} with IMAX I = {bad.imax_nats:.2f} nats",
               "high 'information' without disparity: the modules agree on shared pixels, not on depth")
    return f"IMAX |r| with disparity {r:.3f} (unsupervised); with shared pixels |r| {bad.abs_r:.3f} at I = {bad.imax_nats:.2f} nats"


def maps_stage(ctx: StageContext) -> str:
    """LLE vs SNE vs t-SNE maps of the SimCLR representations (raw digits pixels if that stage did not run)."""
    import numpy as np

    from reprlab.embed import LLE, SNE, TSNE, map_knn_accuracy, trustworthiness
    from reprlab.train import torch_threads

    path = ctx.run_dir / "simclr" / FEATURES
    if path.is_file():
        with np.load(path) as f:
            x, y, what = f["h"].astype(np.float64), f["y"], "SimCLR representations h of the digits test images"
    else:
        from reprlab.data import load_dataset

        test = load_dataset("digits", "test")
        x, y = test.x.flatten(1).numpy().astype(np.float64), test.y.numpy()
        what = "digits test pixels (the simclr stage has not run in this directory)"
    n = min(len(x), ctx.pick(360, 1500))  # SNE is O(n^2) per iteration
    x, y = x[:n], y[:n]
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    maps, rows = {}, []
    methods: dict[str, Callable[[], Any]] = {"LLE": lambda: LLE(n_neighbors=12, random_state=0),
               "SNE": lambda: SNE(perplexity=30, n_iter=ctx.pick(200, 500), random_state=0),
               "t-SNE": lambda: TSNE(perplexity=30, method="barnes_hut", n_jobs=1, n_iter=ctx.pick(300, 500),
                                     random_state=0)}
    with torch_threads(1):
        for name, make in methods.items():
            ctx.part(name)
            t0 = time.perf_counter()
            maps[name] = make().fit_transform(x)
            secs = time.perf_counter() - t0
            acc = ctx.metric(f"{name} knn", float(map_knn_accuracy(maps[name], y, 10)))
            rows.append([name, acc, float(trustworthiness(x, maps[name], 10)), round(secs, 2)])
    ctx.table(f"2-D maps of {n} points: {what}", ["method", "kNN accuracy in the map (k=10)",
                                                  "trustworthiness (k=10)", "seconds"], rows)
    ctx.figure(_plot_maps(maps, y, ctx.out / "maps.png"), "LLE, SNE and t-SNE maps coloured by digit")
    tsne, lle = ctx.section["metrics"]["t-SNE knn"], ctx.section["metrics"]["LLE knn"]
    ctx.anchor("t-SNE gives clean clusters where LLE collapses into strands (MNIST)", "qualitative (figures)",
               "van der Maaten & Hinton 2008; the talk", f"kNN accuracy t-SNE {tsne:.3f} vs LLE {lle:.3f}",
               "digits representations, not MNIST pixels; the ordering " +
               ("matches" if tsne > lle else "does NOT match"))
    source = "SimCLR representations" if path.is_file() else "digits pixels (no simclr stage here)"
    return f"maps of {n} {source}: kNN accuracy t-SNE {tsne:.3f}, SNE {rows[1][1]:.3f}, LLE {lle:.3f}"


def objectives_stage(ctx: StageContext) -> str:
    """Likelihood (a GMM on pixels) vs reconstruction (autoencoder code) vs coherence (SimCLR), clustered."""
    import dataclasses

    from reprlab.data import DataSpec
    from reprlab.mixture import ObjectivesRunConfig, run_objectives
    from reprlab.train import torch_threads

    name, note = _image_data(ctx)
    base = ObjectivesRunConfig()
    steps = {"max_steps": ctx.pick(150, 400), "batch_size": 128}
    cfg = dataclasses.replace(
        base, data=DataSpec(name=name, limit=None if name == "digits" else 10_000),
        test_limit=None if name == "digits" else 2_000, dims=ctx.pick(10, 30), n_init=1, output_dir=str(ctx.out),
        autoencoder_train=dataclasses.replace(base.autoencoder_train, **steps),
        simclr=dataclasses.replace(base.simclr, width=16, proj_hidden=64, proj_dim=32),
        simclr_train=dataclasses.replace(base.simclr_train, max_steps=ctx.pick(40, 100), batch_size=128, lr=3e-3,
                                         warmup_steps=5))
    with torch_threads(2):
        ctx.part("likelihood, reconstruction, coherence")
        objectives = run_objectives(cfg)
    rows = [[r.objective, r.representation, r.dims, round(r.purity, 3), round(r.nmi, 3), round(r.train_seconds, 1)]
            for r in objectives.rows]
    for r in objectives.rows:
        ctx.metric(f"{r.objective} purity", r.purity)
        ctx.metric(f"{r.objective} nmi", r.nmi)
    k = objectives.n_components
    ctx.table(f"{note}: {objectives.n_train:,} training images (labels unused), {objectives.n_test:,} test images "
              f"clustered by one Gaussian mixture (K = {k}); chance purity {1 / k:.3f}",
              ["objective", "representation clustered", "dims", "purity", "NMI", "seconds"], rows)
    best = max(objectives.rows, key=lambda r: r.nmi)
    above = all(r.purity > 2 / k for r in objectives.rows)
    ctx.anchor("three unsupervised objectives — likelihood, reconstruction, coherence — each find the classes "
               "without labels", "qualitative", "Hinton, SIGIR 2020 talk",
               ", ".join(f"{r.objective} purity {r.purity:.3f}" for r in objectives.rows),
               f"every objective at least twice chance ({2 / k:.3f})" if above
               else f"NOT every objective reached twice chance ({2 / k:.3f})")
    return ("clustered by a GMM: " + ", ".join(f"{r.objective} NMI {r.nmi:.3f}" for r in objectives.rows)
            + f"; best {best.objective}")


def _plot_maps(maps: dict, labels, path: Path) -> Path:
    from matplotlib.figure import Figure

    from reprlab.io import save_figure

    fig = Figure(figsize=(4 * len(maps), 4))
    for ax, (name, xy) in zip(fig.subplots(1, len(maps)), maps.items()):
        ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=4, linewidths=0)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return save_figure(fig, path, dpi=80)


__all__ = ["generative_stage", "simclr_stage", "imax_stage", "maps_stage", "objectives_stage", "FEATURES"]
