"""End-to-end runs of the coherence domain: ``run_x(cfg: XRunConfig) -> XResult``, one per command.

* :func:`run_imax` — IMAX or contrastive coherence on random-dot stereograms (``reprlab imax
  train``), with the studies built on it: :func:`compare_imax_contrastive` (``imax compare``) and
  :func:`nonlinearity_study` (``imax nonlinear``);
* :func:`run_infonce_bound` — InfoNCE's estimate against the true MI per batch size (``imax bound``);
* :func:`run_cpc` — CPC on slow-factor signals or text, with the factor probe (``cpc train``);
* :func:`run_agreement` — the layer-local agreement stack, MSE vs contrastive (``agreement``).

Every run trains through :class:`reprlab.train.Trainer` into ``train.output_dir`` and writes its
``result.json`` and figures there; labels (disparities, latent factors, classes) are used only after
training, to evaluate.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from reprlab.coherence.agreement import AgreementConfig, AgreementObjective, activation_variance, probe_accuracy
from reprlab.coherence.contrastive import ContrastiveCoherenceConfig, ContrastiveCoherenceObjective
from reprlab.coherence.cpc import (
    CPCConfig,
    CPCObjective,
    char_sequences,
    cpc_features,
    factor_probe_r2,
    factors_per_step,
    slow_factor_signals,
)
from reprlab.coherence.imax import IMAXConfig, IMAXObjective, imax_information, pearson_r
from reprlab.coherence.infonce import infonce_bound_curve, plot_infonce_bound
from reprlab.coherence.mi import ksg_mutual_information
from reprlab.coherence.stereograms import (
    StereogramConfig,
    Stereograms,
    plot_stereograms,
    random_dot_stereograms,
)
from reprlab.config import check_choices
from reprlab.data import ArrayDataset, DataSpec, load_split
from reprlab.errors import ConfigError, DataError
from reprlab.io import atomic_write, save_figure, write_json
from reprlab.train import TrainConfig, Trainer

log = logging.getLogger(__name__)


def _summary(result: Any) -> dict[str, Any]:
    """A result's JSON-ready fields: those not marked ``metadata={"json": False}`` (tensors, models)."""
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.metadata.get("json", True)}


_NOT_JSON: dict[str, Any] = {"json": False}


# ------------------------------------------------------------------------------ IMAX
def _imax_train_defaults() -> TrainConfig:
    return TrainConfig(output_dir="runs/imax", max_steps=1000, batch_size=256, optimizer="adam",
                       lr=3e-3, weight_decay=0.0, save_every=None, log_every=100)


@dataclass
class IMAXRunConfig:
    """One coherence run: data, model and training (``reprlab imax train --config``).

    ``objective`` decides the type of ``model``: :class:`IMAXConfig` for ``imax`` (variances),
    :class:`ContrastiveCoherenceConfig` (the same modules plus ``critic`` and ``temperature``) for
    ``contrastive`` (InfoNCE). A model table given for the other objective is converted when the
    fields carry over and refused when it sets a field the objective does not use.
    """

    data: StereogramConfig = field(default_factory=StereogramConfig)
    objective: Literal["imax", "contrastive"] = "imax"
    model: IMAXConfig | ContrastiveCoherenceConfig = field(default_factory=IMAXConfig)
    n_train: int = 8192  # stereograms in the training set (epochs repeat them)
    n_test: int = 2048  # held-out stereograms for |r| and the MI estimates
    seed: int = 0  # data seed (the test set uses seed + 1); model init uses train.seed
    train: TrainConfig = field(default_factory=_imax_train_defaults)

    def __post_init__(self) -> None:
        check_choices(self)
        self.model = model_for(self.objective, self.model)


def model_for(objective: str, model: IMAXConfig) -> IMAXConfig:
    """``model`` as the config type ``objective`` trains: the tag of :class:`IMAXRunConfig`'s union."""
    module_fields = {f.name: getattr(model, f.name) for f in dataclasses.fields(IMAXConfig)}
    if objective == "contrastive":
        return model if isinstance(model, ContrastiveCoherenceConfig) else ContrastiveCoherenceConfig(**module_fields)
    if isinstance(model, ContrastiveCoherenceConfig):
        unused = [f.name for f in dataclasses.fields(ContrastiveCoherenceConfig)
                  if f.name not in module_fields and getattr(model, f.name) != f.default]
        if unused:
            raise ConfigError(f"model.{unused[0]} applies to objective='contrastive' only; set "
                              f"objective='contrastive' or drop model.{unused[0]}")
    return IMAXConfig(**module_fields) if type(model) is not IMAXConfig else model


@dataclass
class IMAXResult:
    """What a run measured on held-out stereograms."""

    objective: str
    abs_r: float  # |Pearson r| of module outputs with the true disparity (all modules pooled)
    imax_nats: float  # 1/2 log V(a+b)/V(a-b) of the first two modules (scalar outputs)
    gaussian_nats: float  # -1/2 log(1 - rho^2) of the first two modules
    ksg_nats: float  # KSG estimate of I(a; b) of the first two modules
    seconds: float  # training wall time
    outputs: torch.Tensor = field(repr=False, metadata=_NOT_JSON)  # (N_test, P, D)
    disparity: torch.Tensor = field(repr=False, metadata=_NOT_JSON)  # (N_test, P)
    model: IMAXObjective | ContrastiveCoherenceObjective | None = field(
        default=None, repr=False, metadata=_NOT_JSON)  # the trained objective

    def summary(self) -> dict[str, Any]:
        return _summary(self)


def build_objective(cfg: IMAXRunConfig) -> IMAXObjective | ContrastiveCoherenceObjective:
    """The configured objective, with modules sized for the configured stereograms."""
    d = cfg.data
    if isinstance(cfg.model, ContrastiveCoherenceConfig):
        return ContrastiveCoherenceObjective(cfg.model, d.n_patches, d.height, d.patch_width)
    return IMAXObjective(cfg.model, d.n_patches, d.height, d.patch_width)


@torch.no_grad()
def evaluate_coherence(objective: IMAXObjective | ContrastiveCoherenceObjective, test: Stereograms,
                       objective_name: str = "imax", seconds: float = 0.0) -> IMAXResult:
    """|r| with disparity, IMAX/Gaussian information and a KSG estimate on held-out stereograms."""
    objective.eval()
    y = objective.outputs(test.strips).double()  # (N, P, D)
    a, b = y[:, 0], y[:, 1]
    r = pearson_r(y[..., 0].flatten(), test.disparity.flatten()) if y.shape[-1] == 1 else float("nan")
    return IMAXResult(
        objective=objective_name, abs_r=abs(r),
        imax_nats=float(imax_information(a, b, 1e-12, "imax")),
        gaussian_nats=float(imax_information(a, b, 1e-12, "gaussian")),
        ksg_nats=ksg_mutual_information(a.numpy(), b.numpy(), k=3),
        seconds=seconds, outputs=y.float(), disparity=test.disparity, model=objective)


def _train_imax(cfg: IMAXRunConfig, callbacks: tuple = ()) -> IMAXResult:
    """Draw stereograms, train the configured objective with the Trainer, evaluate held out."""
    train = random_dot_stereograms(cfg.n_train, cfg.data, seed=cfg.seed)
    test = random_dot_stereograms(cfg.n_test, cfg.data, seed=cfg.seed + 1)
    torch.manual_seed(cfg.train.seed)
    objective = build_objective(cfg)
    t0 = time.perf_counter()
    Trainer(objective, cfg.train, train.dataset(), callbacks=list(callbacks),
            model_config={"data": dataclasses.asdict(cfg.data), "objective": cfg.objective,
                          "model": dataclasses.asdict(cfg.model)}).fit()
    seconds = time.perf_counter() - t0
    result = evaluate_coherence(objective, test, cfg.objective, seconds)
    log.info("%s: |r|=%.3f imax=%.3f ksg=%.3f in %.1fs", cfg.objective, result.abs_r,
             result.imax_nats, result.ksg_nats, seconds)
    return result


def run_imax(cfg: IMAXRunConfig, *, callbacks: tuple = ()) -> IMAXResult:
    """Train and evaluate one run; write ``stereograms.png``, ``disparity_scatter.png`` and ``result.json``."""
    out = Path(cfg.train.output_dir)
    plot_stereograms(random_dot_stereograms(4, cfg.data, seed=cfg.seed), out / "stereograms.png")
    result = _train_imax(cfg, callbacks)
    plot_disparity_scatter(result, out / "disparity_scatter.png", title=_scatter_title(cfg, result))
    write_json(out / "result.json", result.summary())
    return result


def _scatter_title(cfg: IMAXRunConfig, result: IMAXResult) -> str:
    return (f"{result.objective} ({cfg.model.variant} variant) on {cfg.data.surface} stereograms\n"
            f"|r| with true disparity = {result.abs_r:.3f}, first module")


def plot_disparity_scatter(result: IMAXResult, path: str | Path, title: str = "") -> Path:
    """Scatter of module output vs true disparity (first module; up to 2,000 points)."""
    from matplotlib.figure import Figure

    d = result.disparity[:2000, 0].numpy()
    y = result.outputs[:2000, 0, 0].numpy()
    fig = Figure(figsize=(4.5, 4))
    ax = fig.subplots()
    ax.scatter(d, y, s=3, alpha=0.4)
    ax.set_xlabel("true disparity (pixels)")
    ax.set_ylabel("module output a")
    ax.set_title(title or f"{result.objective}: |r| = {result.abs_r:.3f}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def _with(cfg: IMAXRunConfig, output_dir: str, **model: Any) -> IMAXRunConfig:
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **model),
                               train=dataclasses.replace(cfg.train, output_dir=output_dir))


@dataclass
class StudyResult:
    """One row per run of a study (the :meth:`IMAXResult.summary` fields), and its Markdown table."""

    rows: list[dict[str, Any]]
    table: str


def _study(rows: list[dict[str, Any]], path: Path) -> StudyResult:
    table = markdown_table(rows)
    with atomic_write(path) as f:
        f.write(table + "\n")
    return StudyResult(rows, table)


def nonlinearity_study(base: IMAXRunConfig, head_depths: tuple[int, ...] = (0, 1, 3)) -> StudyResult:
    """IMAX with ever more nonlinear modules (tanh layers after the energy units), plus overlap.

    Each row: the Gaussian-assumption "I" (IMAX), the KSG estimate of the real I(a; b), and |r|
    with disparity. A growing gap IMAX - KSG, or I without |r|, is IMAX's failure mode.
    The last row trains pixel-MLP modules on stereograms whose patches share pixels
    (``data.overlap``): the modules agree on those pixels, not on depth (|r| near 0).
    Runs go to ``base.train.output_dir``/``depth{d}`` and ``overlap``; the table to ``nonlinear.md``.
    """
    rows = []
    out_dir = Path(base.train.output_dir)
    for depth in head_depths:
        res = _train_imax(_with(base, str(out_dir / f"depth{depth}"), head_depth=depth))
        rows.append({"modules": f"energy + {depth} tanh layers", **res.summary()})
    # all but one pixel shared: with 8 of 16 shared the MLP found depth too after ~1000 steps
    overlap = dataclasses.replace(base, data=dataclasses.replace(base.data, overlap=base.data.patch_width - 1))
    res = _train_imax(_with(overlap, str(out_dir / "overlap"), module="mlp"))
    rows.append({"modules": f"pixel MLP, patches share {overlap.data.overlap} px", **res.summary()})
    return _study(rows, out_dir / "nonlinear.md")


def compare_imax_contrastive(base: IMAXRunConfig) -> StudyResult:
    """IMAX vs contrastive coherence on the same stereograms and modules: one table (``compare.md``).

    Both arms share ``base.model``'s module fields; the contrastive arm also takes its ``critic`` and
    ``temperature`` when ``base.objective`` is ``contrastive`` (else their defaults). Runs go to
    ``base.train.output_dir``/``imax`` and ``contrastive``.
    """
    out_dir = Path(base.train.output_dir)
    rows = []
    for name in ("imax", "contrastive"):
        model = base.model if name == "contrastive" else IMAXConfig(
            **{f.name: getattr(base.model, f.name) for f in dataclasses.fields(IMAXConfig)})
        cfg = dataclasses.replace(base, objective=name, model=model,
                                  train=dataclasses.replace(base.train, output_dir=str(out_dir / name)))
        rows.append(_train_imax(cfg).summary())
    return _study(rows, out_dir / "compare.md")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of a study as a Markdown table (floats to 3 decimals)."""
    if not rows:
        return ""
    keys = list(rows[0])

    def fmt(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------- InfoNCE bound
@dataclass
class InfoNCEBoundRunConfig:
    """``reprlab imax bound``: InfoNCE with the optimal critic on Gaussians of known MI."""

    output_dir: str = "runs/infonce-bound"
    true_mis: tuple[float, ...] = (0.25, 0.5, 1, 2, 3, 4, 5, 6, 8, 10)  # nats
    batch_sizes: tuple[int, ...] = (16, 64, 256, 1024)
    dim: int = 8  # dimensions the MI is spread over
    n_batches: int = 10  # batches averaged per point
    seed: int = 0


@dataclass
class InfoNCEBoundResult:
    """The mean estimate per batch size, one value per true MI (``infonce_bound.json``)."""

    true_mis: list[float]
    estimates: dict[int, list[float]]
    figure: Path


def run_infonce_bound(cfg: InfoNCEBoundRunConfig) -> InfoNCEBoundResult:
    """Measure the estimate per (batch size, true MI); write ``infonce_bound.png`` and ``.json``."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    mis = [float(m) for m in cfg.true_mis]
    curves = infonce_bound_curve(mis, list(cfg.batch_sizes), dim=cfg.dim, n_batches=cfg.n_batches, seed=cfg.seed)
    plot_infonce_bound(mis, curves, out / "infonce_bound.png")
    write_json(out / "infonce_bound.json", {"true_mi": mis, "estimates": {str(k): v for k, v in curves.items()}})
    return InfoNCEBoundResult(mis, curves, out / "infonce_bound.png")


# ------------------------------------------------------------------------------- CPC
def _cpc_train_defaults() -> TrainConfig:
    return TrainConfig(output_dir="runs/cpc", max_steps=300, batch_size=32, optimizer="adam", lr=2e-3,
                       weight_decay=0.0, save_every=None, log_every=50)


@dataclass
class CPCRunConfig:
    """``reprlab cpc train``: data, model and training."""

    model: CPCConfig = field(default_factory=CPCConfig)
    text: str = ""  # a UTF-8 file for character-level CPC ("" = synthetic slow-factor signals)
    length: int = 128  # samples (or bytes) per sequence
    n_train: int = 2048  # synthetic sequences for training (text: all windows)
    n_test: int = 512  # synthetic held-out sequences for the probe
    seed: int = 0  # data seed (held-out data use seed + 1)
    train: TrainConfig = field(default_factory=_cpc_train_defaults)


@dataclass
class CPCResult:
    """Top-1 accuracy of the k-step predictions, and the probe R^2 (signals only)."""

    accuracy_per_step: list[float]
    infonce_nats: float
    probe_r2: dict[str, float]  # factor -> R^2 of the trained context
    probe_r2_untrained: dict[str, float]  # same network before training
    seconds: float
    model: CPCObjective | None = field(default=None, repr=False, metadata=_NOT_JSON)  # the trained objective

    def summary(self) -> dict[str, Any]:
        return _summary(self)


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: text file not found") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None


def run_cpc(cfg: CPCRunConfig) -> CPCResult:
    """Train CPC through the Trainer; probe the slow factors from ``c_t`` vs an untrained copy.

    Writes ``result.json`` and ``cpc_accuracy.png`` into ``train.output_dir``.
    """
    torch.manual_seed(cfg.train.seed)
    objective = CPCObjective(cfg.model)
    probe_before: dict[str, float] = {}
    probe_after: dict[str, float] = {}
    if cfg.text:
        if cfg.model.input != "chars":
            raise ConfigError("text= given: set model.input='chars' (byte ids, embedding encoder)")
        data = ArrayDataset.unlabelled(char_sequences(_read_text(cfg.text), cfg.length))
    else:
        if cfg.model.input != "signal":
            raise ConfigError("model.input='chars' needs text=FILE (e.g. the bundled corpus)")
        xtr, ftr = slow_factor_signals(cfg.n_train, cfg.length, seed=cfg.seed)
        xte, fte = slow_factor_signals(cfg.n_test, cfg.length, seed=cfg.seed + 1)
        data = ArrayDataset(xtr, ftr)  # the factors ride along, unused in training

        def probe() -> dict[str, float]:
            ctr, cte = cpc_features(objective.model, xtr), cpc_features(objective.model, xte)
            steps = ctr.shape[1]
            r2 = factor_probe_r2(ctr, factors_per_step(ftr, cfg.model.stride, steps),
                                 cte, factors_per_step(fte, cfg.model.stride, steps))
            return dict(zip(("frequency", "amplitude"), r2))

        probe_before = probe()
    t0 = time.perf_counter()
    trained = Trainer(objective, cfg.train, data).fit()
    seconds = time.perf_counter() - t0
    if not cfg.text:
        probe_after = probe()
    logs = trained.last_logs
    accs = [float(logs.get(f"acc_k{k}", float("nan"))) for k in range(1, cfg.model.predict_steps + 1)]
    result = CPCResult(accs, float(logs.get("infonce_nats", float("nan"))), probe_after, probe_before,
                       seconds, objective)
    out = Path(cfg.train.output_dir)
    write_json(out / "result.json", result.summary())
    plot_cpc(result, out / "cpc_accuracy.png")
    return result


def plot_cpc(result: CPCResult, path: Path) -> Path:
    """Accuracy per prediction step and (signals) the factor probe's R^2, trained vs untrained."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8 if result.probe_r2 else 4, 3.2))
    axes = fig.subplots(1, 2 if result.probe_r2 else 1, squeeze=False)
    ks = list(range(1, len(result.accuracy_per_step) + 1))
    acc = result.accuracy_per_step
    axes[0, 0].plot(ks, acc, marker="o")
    for k, a in zip(ks, acc):
        axes[0, 0].annotate(f"{a:.2f}", (k, a), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=7)
    axes[0, 0].set_xlabel("prediction step k")
    axes[0, 0].set_ylabel("top-1 accuracy among negatives")
    axes[0, 0].set_xticks(ks)
    span = max(acc) - min(acc)
    pad = max(0.05, 0.25 * span)  # a range that shows the differences between steps, clipped to [0, 1]
    axes[0, 0].set_ylim(max(0.0, min(acc) - pad), min(1.0, max(acc) + pad))
    axes[0, 0].set_title("CPC: future step k picked from the negatives", fontsize=9)
    if result.probe_r2:
        names = list(result.probe_r2)
        xs = range(len(names))
        axes[0, 1].bar([x - 0.2 for x in xs], [result.probe_r2_untrained[n] for n in names], 0.4, label="untrained")
        axes[0, 1].bar([x + 0.2 for x in xs], [result.probe_r2[n] for n in names], 0.4, label="CPC")
        axes[0, 1].set_xticks(list(xs), names)
        axes[0, 1].set_ylabel("linear probe R^2 from c_t")
        axes[0, 1].set_title("slow factors read out of the context c_t", fontsize=9)
        axes[0, 1].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


# ------------------------------------------------------------------------- agreement
def _agreement_train_defaults() -> TrainConfig:
    return TrainConfig(output_dir="runs/agreement", max_steps=600, batch_size=256, optimizer="adamw",
                       lr=3e-3, save_every=None, log_every=50)


@dataclass
class AgreementRunConfig:
    """``reprlab agreement``: data, model and training."""

    model: AgreementConfig = field(default_factory=AgreementConfig)
    # any reprlab.data image set (digits: 8x8, use grid=2); data.limit training images, also the probe's
    data: DataSpec = field(default_factory=lambda: DataSpec(name="fashion-mnist", limit=10000))
    n_test: int = 2000  # probe test images (first n of the test split)
    train: TrainConfig = field(default_factory=_agreement_train_defaults)


@dataclass
class AgreementResult:
    """Probe accuracy and activation variance per layer, trained vs the untrained stack."""

    agreement: str
    probe_accuracy: float
    probe_accuracy_untrained: float
    variance: list[float]
    variance_untrained: list[float]
    seconds: float
    model: AgreementObjective | None = field(default=None, repr=False, metadata=_NOT_JSON)  # the trained stack

    def summary(self) -> dict[str, Any]:
        return _summary(self)


def run_agreement(cfg: AgreementRunConfig) -> AgreementResult:
    """Train the layer-local stack through the Trainer and probe it against its untrained copy.

    Writes ``result.json`` into ``train.output_dir``.
    """
    tr, te = load_split(cfg.data, "train"), load_split(cfg.data, "test").head(cfg.n_test)
    xtr, ytr, xte, yte = tr.x, tr.y, te.x, te.y
    torch.manual_seed(cfg.train.seed)
    objective = AgreementObjective(cfg.model, (int(xtr.shape[1]), int(xtr.shape[2]), int(xtr.shape[3])))
    acc0, var0 = probe_accuracy(objective, xtr, ytr, xte, yte), activation_variance(objective, xte)
    t0 = time.perf_counter()
    Trainer(objective, cfg.train, tr).fit()
    seconds = time.perf_counter() - t0
    acc, var = probe_accuracy(objective, xtr, ytr, xte, yte), activation_variance(objective, xte)
    result = AgreementResult(cfg.model.agreement, acc, acc0, var, var0, seconds, objective)
    write_json(Path(cfg.train.output_dir) / "result.json", result.summary())
    return result


# ------------------------------------------------------------------------------ demo
def demo(out_dir: Path) -> str:
    """IMAX on planar stereograms (a few seconds): scatter PNG and one line with |r|."""
    from reprlab.train import torch_threads

    out = Path(out_dir) / "coherence"
    cfg = IMAXRunConfig(n_train=4096, n_test=1024)
    cfg.train.output_dir = str(out / "imax-run")
    cfg.train.max_steps = 500
    if (out / "imax-run").exists():
        import shutil
        shutil.rmtree(out / "imax-run")
    with torch_threads(1):
        plot_stereograms(random_dot_stereograms(4, cfg.data, seed=0), out / "stereograms.png")
        result = _train_imax(cfg)
    plot_disparity_scatter(result, out / "imax_disparity_scatter.png", title=_scatter_title(cfg, result))
    return (f"coherence: IMAX on planar random-dot stereograms, |r| = {result.abs_r:.3f} between module "
            f"output and true disparity (unsupervised, {cfg.train.max_steps} steps, {result.seconds:.1f} s)")


__all__ = ["IMAXRunConfig", "IMAXResult", "run_imax", "model_for", "build_objective", "evaluate_coherence",
           "plot_disparity_scatter", "StudyResult", "nonlinearity_study", "compare_imax_contrastive",
           "markdown_table", "InfoNCEBoundRunConfig", "InfoNCEBoundResult", "run_infonce_bound",
           "CPCRunConfig", "CPCResult", "run_cpc", "plot_cpc", "AgreementRunConfig", "AgreementResult",
           "run_agreement", "demo"]
