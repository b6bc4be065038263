"""IMAX and contrastive-coherence runs on stereograms, their evaluation, figures and studies.

Every run trains through :class:`reprlab.train.Trainer`; the disparity labels are used only after
training, to report ``|r|`` (Pearson correlation of a module's output with the true disparity).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from reprlab.coherence.contrastive import ContrastiveCoherenceConfig, ContrastiveCoherenceObjective
from reprlab.coherence.imax import IMAXConfig, IMAXObjective, imax_information, pearson_r
from reprlab.coherence.mi import ksg_mutual_information
from reprlab.coherence.stereograms import (StereogramConfig, Stereograms, keep_batch,
                                           random_dot_stereograms)
from reprlab.train import TrainConfig, Trainer

log = logging.getLogger(__name__)


def _imax_train_defaults() -> TrainConfig:
    return TrainConfig(output_dir="runs/imax", max_steps=1000, batch_size=256, optimizer="adam",
                       lr=3e-3, weight_decay=0.0, save_every=None, log_every=100, progress=False)


@dataclass
class IMAXRunConfig:
    """One coherence run: data, model and training (``reprlab imax train --config``)."""

    data: StereogramConfig = field(default_factory=StereogramConfig)
    model: ContrastiveCoherenceConfig = field(default_factory=ContrastiveCoherenceConfig)
    objective: str = "imax"  # imax (variances; model.critic/temperature unused) | contrastive (InfoNCE)
    n_train: int = 8192  # stereograms in the training set (epochs repeat them)
    n_test: int = 2048  # held-out stereograms for |r| and the MI estimates
    seed: int = 0  # data seed (the test set uses seed + 1); model init uses train.seed
    train: TrainConfig = field(default_factory=_imax_train_defaults)

    def __post_init__(self) -> None:
        if self.objective not in ("imax", "contrastive"):
            from reprlab.errors import ConfigError
            raise ConfigError(f"objective={self.objective!r}: choose imax or contrastive")


@dataclass
class CoherenceResult:
    """What a run measured on held-out stereograms."""

    objective: str
    abs_r: float  # |Pearson r| of module outputs with the true disparity (all modules pooled)
    imax_nats: float  # 1/2 log V(a+b)/V(a-b) of the first two modules (scalar outputs)
    gaussian_nats: float  # -1/2 log(1 - rho^2) of the first two modules
    ksg_nats: float  # KSG estimate of I(a; b) of the first two modules
    seconds: float  # training wall time
    outputs: torch.Tensor = field(repr=False)  # (N_test, P, D)
    disparity: torch.Tensor = field(repr=False)  # (N_test, P)

    def summary(self) -> dict[str, float | str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("outputs", "disparity")}


def build_objective(cfg: IMAXRunConfig) -> IMAXObjective | ContrastiveCoherenceObjective:
    """The configured objective, with modules sized for the configured stereograms."""
    d = cfg.data
    if cfg.objective == "contrastive":
        return ContrastiveCoherenceObjective(cfg.model, d.n_patches, d.height, d.patch_width)
    imax_fields = {f.name: getattr(cfg.model, f.name) for f in dataclasses.fields(IMAXConfig)}
    return IMAXObjective(IMAXConfig(**imax_fields), d.n_patches, d.height, d.patch_width)


@torch.no_grad()
def evaluate_coherence(objective: IMAXObjective | ContrastiveCoherenceObjective, test: Stereograms,
                       objective_name: str = "imax", seconds: float = 0.0) -> CoherenceResult:
    """|r| with disparity, IMAX/Gaussian information and a KSG estimate on held-out stereograms."""
    objective.eval()
    y = objective.outputs(test.strips).double()  # (N, P, D)
    a, b = y[:, 0], y[:, 1]
    r = pearson_r(y[..., 0].flatten(), test.disparity.flatten()) if y.shape[-1] == 1 else float("nan")
    return CoherenceResult(
        objective=objective_name, abs_r=abs(r),
        imax_nats=float(imax_information(a, b, 1e-12, "imax")),
        gaussian_nats=float(imax_information(a, b, 1e-12, "gaussian")),
        ksg_nats=ksg_mutual_information(a.numpy(), b.numpy(), k=3),
        seconds=seconds, outputs=y.float(), disparity=test.disparity)


def run_coherence(cfg: IMAXRunConfig, *, callbacks: tuple = ()) -> tuple[CoherenceResult, IMAXObjective | ContrastiveCoherenceObjective]:
    """Draw stereograms, train the configured objective with the Trainer, evaluate held out."""
    train = random_dot_stereograms(cfg.n_train, cfg.data, seed=cfg.seed)
    test = random_dot_stereograms(cfg.n_test, cfg.data, seed=cfg.seed + 1)
    torch.manual_seed(cfg.train.seed)
    objective = build_objective(cfg)
    t0 = time.perf_counter()
    Trainer(objective, cfg.train, train, collate_fn=keep_batch, callbacks=list(callbacks),
            model_config={"data": dataclasses.asdict(cfg.data), "objective": cfg.objective,
                          "model": dataclasses.asdict(cfg.model)}).fit()
    seconds = time.perf_counter() - t0
    result = evaluate_coherence(objective, test, cfg.objective, seconds)
    log.info("%s: |r|=%.3f imax=%.3f ksg=%.3f in %.1fs", cfg.objective, result.abs_r,
             result.imax_nats, result.ksg_nats, seconds)
    return result, objective


def plot_disparity_scatter(result: CoherenceResult, path: str | Path, title: str = "") -> Path:
    """Scatter of module output vs true disparity (first module; up to 2,000 points)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure

    d = result.disparity[:2000, 0].numpy()
    y = result.outputs[:2000, 0, 0].numpy()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.scatter(d, y, s=3, alpha=0.4)
    ax.set_xlabel("true disparity (pixels)")
    ax.set_ylabel("module output a")
    ax.set_title(title or f"{result.objective}: |r| = {result.abs_r:.3f}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def _with(cfg: IMAXRunConfig, output_dir: str, **model: object) -> IMAXRunConfig:
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **model),
                               train=dataclasses.replace(cfg.train, output_dir=output_dir))


def nonlinearity_study(base: IMAXRunConfig, head_depths: tuple[int, ...] = (0, 1, 3),
                       out_dir: str | Path = "runs/imax-nonlinear") -> list[dict[str, float | str]]:
    """IMAX with ever more nonlinear modules (tanh layers after the energy units), plus overlap.

    Each row: the Gaussian-assumption "I" (IMAX), the KSG estimate of the real I(a; b), and |r|
    with disparity. A growing gap IMAX - KSG, or I without |r|, is the seed's failure mode.
    The last row trains pixel-MLP modules on stereograms whose patches share pixels
    (``data.overlap``): the modules agree on those pixels, not on depth (|r| near 0).
    """
    rows = []
    out_dir = Path(out_dir)
    for depth in head_depths:
        res, _ = run_coherence(_with(base, str(out_dir / f"depth{depth}"), head_depth=depth))
        rows.append({"modules": f"energy + {depth} tanh layers", **res.summary()})
    # all but one pixel shared: with 8 of 16 shared the MLP found depth too after ~1000 steps
    overlap = dataclasses.replace(base, data=dataclasses.replace(base.data, overlap=base.data.patch_width - 1))
    res, _ = run_coherence(_with(overlap, str(out_dir / "overlap"), module="mlp"))
    rows.append({"modules": f"pixel MLP, patches share {overlap.data.overlap} px", **res.summary()})
    return rows


def compare_imax_contrastive(base: IMAXRunConfig, out_dir: str | Path = "runs/imax-compare") -> list[dict[str, float | str]]:
    """IMAX vs contrastive coherence on the same stereograms and modules: one table."""
    out_dir = Path(out_dir)
    rows = []
    for name in ("imax", "contrastive"):
        cfg = dataclasses.replace(base, objective=name,
                                  train=dataclasses.replace(base.train, output_dir=str(out_dir / name)))
        res, _ = run_coherence(cfg)
        rows.append(res.summary())
    return rows


def markdown_table(rows: list[dict[str, float | str]]) -> str:
    """Rows of a study as a Markdown table (floats to 3 decimals)."""
    if not rows:
        return ""
    keys = list(rows[0])
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
