"""The talk's three unsupervised objectives side by side on the same images (``reprlab experiment objectives``).

Hinton (SIGIR 2020) lists the objectives unsupervised learning can optimise: **maximum
likelihood** (e.g. fit a Gaussian mixture), **reconstruction** (autoencoders) and **spatial or
temporal coherence** (IMAX, contrastive learning such as SimCLR). :func:`run_objectives` trains
one of each on the same training images without labels and asks one question of all three: how
well do the classes fall out? Each representation (PCA of the pixels for the mixture itself,
the deep autoencoder's code, SimCLR's ``h``) is reduced to the same number of dimensions and
clustered by the same :class:`~reprlab.mixture.GaussianMixture` (K = number of classes) fitted on
the training images; the clusters of the *test* images are scored against their labels by
purity and normalised mutual information (labels are used only for these two numbers).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from reprlab.data import DataSpec
from reprlab.errors import ConfigError
from reprlab.mixture.em import CovarianceType
from reprlab.mixture.gaussian_mixture import GaussianMixture
from reprlab.mixture.metrics import cluster_purity
from reprlab.train import TrainConfig
from reprlab.vision import AutoencoderConfig, SimCLRConfig

Objective = Literal["likelihood", "reconstruction", "coherence"]
OBJECTIVES: tuple[str, ...] = ("likelihood", "reconstruction", "coherence")

log = logging.getLogger(__name__)


def _autoencoder_train() -> TrainConfig:
    # ten epochs of Fashion-MNIST at batch 256 (the NOTES prototype: ReLU + Kaiming, Adam 1e-3)
    return TrainConfig(output_dir="", optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=256, max_steps=2350,
                       save_every=None, log_every=50, progress=False)


def _simclr_train() -> TrainConfig:
    # AdamW 1e-3 with warmup + cosine: faster than LARS at CPU scale (docs/simclr.md)
    return TrainConfig(output_dir="", optimizer="adamw", lr=1e-3, batch_size=256, max_steps=700, schedule="cosine",
                       warmup_steps=35, save_every=None, log_every=50, progress=False)


def _autoencoder_model() -> AutoencoderConfig:
    return AutoencoderConfig(input_dim=784, hidden=(1000, 500, 250), code_dim=30)


def _simclr_model() -> SimCLRConfig:
    return SimCLRConfig(backbone="small_cnn", in_channels=1, proj_hidden=128, proj_dim=64, num_classes=0)


@dataclass
class ObjectivesRunConfig:
    """``reprlab experiment objectives``: likelihood vs reconstruction vs coherence, scored by clustering."""

    data: DataSpec = field(default_factory=lambda: DataSpec("fashion-mnist"))  # [data]; data.limit cuts the training images
    test_limit: int | None = None  # first N test images only (quick runs)
    dims: int = 30  # every representation is reduced to this many PCA dimensions (the AE code size)
    n_components: int | None = None  # mixture components; None: the number of classes
    covariance_type: CovarianceType = "full"
    n_init: int = 3  # GMM initialisations (the best log-likelihood is kept)
    objectives: tuple[Objective, ...] = ("likelihood", "reconstruction", "coherence")
    seed: int = 0  # seeds the GMMs, PCA and both networks
    output_dir: str = "runs/objectives"
    device: str = "auto"
    autoencoder: AutoencoderConfig = field(default_factory=_autoencoder_model)  # code_dim is set to dims
    autoencoder_train: TrainConfig = field(default_factory=_autoencoder_train)
    simclr: SimCLRConfig = field(default_factory=_simclr_model)  # num_classes is forced to 0: no labels seen
    simclr_train: TrainConfig = field(default_factory=_simclr_train)
    # a trained SimCLR model.safetensors (e.g. runs/simclr-exp/seed-0/pretrain/model.safetensors of
    # `reprlab experiment simclr`, with `simclr` set to that run's model): its encoder is used as is
    simclr_weights: str | None = None

    def __post_init__(self) -> None:
        if not self.objectives:
            raise ConfigError(f"objectives=[]: choose one or more of {', '.join(OBJECTIVES)}")
        if self.dims < 1:
            raise ConfigError(f"dims={self.dims}: must be >= 1")


@dataclass
class ObjectiveRow:
    """One objective's representation, clustered and scored on the test images."""

    objective: str  # likelihood | reconstruction | coherence
    representation: str  # what was clustered
    dims: int
    purity: float  # sum over clusters of the largest class count, / N (1/K for chance, 1 = perfect)
    nmi: float  # normalised mutual information of clusters and classes (arithmetic mean)
    test_log_likelihood: float  # GMM mean log-likelihood per test image in that space (nats; not comparable across rows)
    train_seconds: float  # training the representation (0 for PCA) and the mixture


@dataclass
class ObjectivesResult:
    rows: list[ObjectiveRow]
    n_train: int
    n_test: int
    n_components: int
    clusters: dict[str, np.ndarray] = field(repr=False, default_factory=dict)  # test cluster ids per objective
    labels: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=int))

    def markdown(self) -> str:
        lines = ["| objective | representation clustered | dims | purity | NMI | seconds |", "|---|---|---|---|---|---|"]
        lines += [f"| {r.objective} | {r.representation} | {r.dims} | {r.purity:.3f} | {r.nmi:.3f} | {r.train_seconds:.1f} |"
                  for r in self.rows]
        return "\n".join(lines)


def _pca(train: np.ndarray, test: np.ndarray, dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    dims = min(dims, train.shape[1], len(train))
    pca = PCA(dims, random_state=seed).fit(train)
    return pca.transform(train), pca.transform(test)


def _autoencoder_codes(cfg: ObjectivesRunConfig, train, test, device: str) -> tuple[np.ndarray, np.ndarray]:
    from reprlab.train import Trainer
    from reprlab.transfer import extract_features
    from reprlab.vision import AutoencoderObjective, default_hidden

    d = int(train.x[0].numel())
    model_cfg = dataclasses.replace(cfg.autoencoder, input_dim=d, code_dim=cfg.dims)
    if model_cfg.hidden == (1000, 500, 250) and d != 784:  # small images: the widths scaled, as `autoencoder train` does
        model_cfg = dataclasses.replace(model_cfg, hidden=default_hidden(d))
    torch.manual_seed(cfg.seed)
    objective = AutoencoderObjective(model_cfg)
    tcfg = dataclasses.replace(cfg.autoencoder_train, output_dir=str(Path(cfg.output_dir) / "autoencoder"),
                               device=device, seed=cfg.seed)
    Trainer(objective, tcfg, train).fit()
    encoder = objective.model.encoder  # (B, D) -> (B, code)
    a, _ = extract_features(encoder, train.x.flatten(1))
    b, _ = extract_features(encoder, test.x.flatten(1))
    return a.double().numpy(), b.double().numpy()


def _simclr_features(cfg: ObjectivesRunConfig, train, test, device: str) -> tuple[np.ndarray, np.ndarray]:
    from reprlab.data import ArrayDataset
    from reprlab.train import Trainer
    from reprlab.transfer import extract_features
    from reprlab.vision import SimCLRObjective

    torch.manual_seed(cfg.seed)
    model_cfg = dataclasses.replace(cfg.simclr, in_channels=int(train.x.shape[1]), num_classes=0, seed=cfg.seed)
    objective = SimCLRObjective(model_cfg)
    if cfg.simclr_weights is not None:
        _load_encoder(objective.encoder, Path(cfg.simclr_weights))
    else:
        tcfg = dataclasses.replace(cfg.simclr_train, output_dir=str(Path(cfg.output_dir) / "simclr"),
                                   device=device, seed=cfg.seed)
        unlabelled = ArrayDataset(train.x, torch.full_like(train.y, -1))
        Trainer(objective, tcfg, unlabelled).fit()
    a, _ = extract_features(objective.encoder, train.x)
    b, _ = extract_features(objective.encoder, test.x)
    return a.double().numpy(), b.double().numpy()


def _load_encoder(encoder: torch.nn.Module, path: Path) -> None:
    """The ``encoder.*`` tensors of a saved SimCLR objective into ``encoder`` (every one must fit)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from reprlab.errors import CheckpointError

    if not path.is_file():
        raise CheckpointError(f"simclr_weights={str(path)!r}: file not found; give the model.safetensors of a "
                              "SimCLR run (e.g. RUN/seed-0/pretrain/model.safetensors of `reprlab experiment simclr`)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"simclr_weights={str(path)!r}: not a readable safetensors file ({e})") from None
    own = {k.removeprefix("encoder."): v for k, v in tensors.items() if k.startswith("encoder.")}
    try:
        encoder.load_state_dict(own, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(f"simclr_weights={str(path)!r}: its encoder does not fit simclr.* of this config "
                              f"({first}); set simclr.backbone/width to that run's model") from None


def cluster_and_score(objective: str, representation: str, train: np.ndarray, test: np.ndarray,
                      labels: np.ndarray, cfg: ObjectivesRunConfig, k: int, seconds: float
                      ) -> tuple[ObjectiveRow, np.ndarray]:
    """Standardise, fit the GMM on ``train``, cluster ``test``; the scored row and the test clusters."""
    from sklearn.metrics import normalized_mutual_info_score

    t0 = time.perf_counter()
    mean, std = train.mean(0), train.std(0) + 1e-12
    gmm = GaussianMixture(k, covariance_type=cfg.covariance_type, n_init=cfg.n_init, random_state=cfg.seed,
                          device=cfg.device, max_iter=300).fit((train - mean) / std)
    z = (test - mean) / std
    clusters = gmm.predict(z)
    row = ObjectiveRow(objective, representation, train.shape[1], cluster_purity(labels, clusters),
                       float(normalized_mutual_info_score(labels, clusters)), gmm.score(z),
                       seconds + time.perf_counter() - t0)
    log.info("%s: purity %.3f NMI %.3f", objective, row.purity, row.nmi)
    return row, clusters


def run_objectives(cfg: ObjectivesRunConfig) -> ObjectivesResult:
    """Train each objective on the unlabelled training images, cluster, score against test labels.

    Writes ``objectives.json`` and ``objectives.md`` (the table) to ``cfg.output_dir``.
    """
    from reprlab.data import load_split
    from reprlab.io import atomic_write, write_json

    train, test = load_split(cfg.data, "train"), load_split(cfg.data, "test").head(cfg.test_limit)
    labels = test.y.numpy()
    k = cfg.n_components or int(max(train.y.max(), test.y.max())) + 1
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[ObjectiveRow] = []
    clusters: dict[str, np.ndarray] = {}
    for objective in cfg.objectives:
        t0 = time.perf_counter()
        if objective == "likelihood":
            a, b = train.x.flatten(1).double().numpy(), test.x.flatten(1).double().numpy()
            what = "pixels (PCA)"
        elif objective == "reconstruction":
            a, b = _autoencoder_codes(cfg, train, test, cfg.device)
            what = "deep autoencoder code"
        else:
            a, b = _simclr_features(cfg, train, test, cfg.device)
            what = f"SimCLR h ({cfg.simclr.backbone}{', pretrained run' if cfg.simclr_weights else ''}, PCA)"
        if a.shape[1] != cfg.dims:
            a, b = _pca(a, b, cfg.dims, cfg.seed)
        row, clusters[objective] = cluster_and_score(objective, what, a, b, labels, cfg, k, time.perf_counter() - t0)
        rows.append(row)
    result = ObjectivesResult(rows, len(train), len(test), k, clusters, labels)
    write_json(out / "objectives.json", {"config": dataclasses.asdict(cfg), "n_train": len(train), "n_test": len(test),
                                         "n_components": k, "rows": [dataclasses.asdict(r) for r in rows]})
    with atomic_write(out / "objectives.md") as f:
        f.write(result.markdown() + "\n")
    return result


__all__ = ["ObjectivesRunConfig", "ObjectiveRow", "ObjectivesResult", "run_objectives", "cluster_and_score", "OBJECTIVES"]
