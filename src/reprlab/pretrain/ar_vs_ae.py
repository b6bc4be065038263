"""``reprlab experiment ar-vs-ae``: autoregressive vs autoencoding pretraining, measured.

The seed asks (002 item 12) what autoregressive (AR) and autoencoding (AE) language models are
each good at. This experiment trains three models of one size on the same tokens for the same
wall time and measures them on the same held-out text and the same labelled task:

- **AE**: RoBERTa-style masked LM (``--objective roberta``: 15% dynamic masks, 80/10/10);
- **AR**: GPT-style causal LM (``--objective causal``);
- **AR, both sides**: XLNet's permutation LM (``--objective xlnet``, K = 6, two streams).

All three read one byte-level BPE vocabulary (trained here, with ``<s> </s> <pad> <mask>``) and
one set of shards, with FULL-SENTENCES packing (the causal LM's blocks start with an end-of-text
token instead of ``<s>`` and have no ``</s>`` at the end). Reported per model: (a) held-out
next-token perplexity (causal) and permutation-LM perplexity (XLNet — a different conditional,
given about 5/6 of the block in both directions, so not comparable with the causal figure),
(b) held-out MLM accuracy (MLM only), (c) a linear probe (logistic regression on frozen mean-pooled
features) and fine-tuning accuracy on the 8-class WordNet supersense glosses bundled with reprlab,
(d) sample generations (the causal LM continues a prompt; the MLM fills a masked word).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reprlab.errors import ConfigError
from reprlab.io import write_json
from reprlab.train import TrainConfig

log = logging.getLogger(__name__)

OBJECTIVES = ("roberta", "causal", "xlnet")
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<mask>")
PROMPTS = ("And God said", "In the beginning")
FILL = "And God said, Let there be<mask>: and there was light."  # <mask> stands for " light" (one BPE piece)


@dataclass
class ArVsAeConfig:
    """``reprlab experiment ar-vs-ae`` (every field settable with ``--set``)."""

    output_dir: str = "runs/ar-vs-ae"
    corpus: str = "kjv"  # kjv (Debian bible-kjv) | kjv-sample (bundled, for tests) | a file
    vocab_size: int = 8000  # byte-level BPE
    model: str = "bert-mini"  # the one size all three models share
    max_length: int = 128
    seconds: float = 300.0  # training wall time per model (evaluation excluded)
    max_steps: int = 100_000  # upper bound; the time budget ends each run first
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 100
    eval_every: int = 100  # held-out curve points (metrics.jsonl)
    probe_train: int = 2400  # labelled glosses for the probe / fine-tuning (the rest, 800, is the test set)
    finetune_epochs: int = 3
    seed: int = 0
    objectives: list[str] = field(default_factory=lambda: list(OBJECTIVES))

    def validate(self) -> None:
        unknown = [o for o in self.objectives if o not in OBJECTIVES]
        if unknown:
            raise ConfigError(f"objectives={unknown}: choose among {list(OBJECTIVES)}")
        if self.seconds <= 0:
            raise ConfigError(f"seconds={self.seconds}: the time budget per model must be > 0")


def _tokenizer_and_shards(cfg: ArVsAeConfig, out: Path) -> Path:
    from reprlab.pretrain.corpus import iter_corpus
    from reprlab.pretrain.shards import PrepareConfig, prepare_shards
    from reprlab.tokenizers import train_bpe

    shards = out / "shards"
    if (shards / "meta.json").is_file():
        return shards
    tok = train_bpe((s for d in iter_corpus([cfg.corpus]) for s in d), cfg.vocab_size, byte_level=True,
                    special_tokens=list(SPECIAL_TOKENS))
    tok_dir = tok.save_pretrained(out / "tokenizer")
    prepare_shards(PrepareConfig(corpus=[cfg.corpus], tokenizer=str(tok_dir), output=str(shards), valid_fraction=0.05,
                                 seed=cfg.seed, workers=1, overwrite=True), command=["reprlab", "experiment", "ar-vs-ae"])
    return shards


class MeanPooled(nn.Module):
    """ids (B, T) padded with ``pad_id`` -> mean of the encoder's last states over real tokens (B, H)."""

    def __init__(self, encoder: nn.Module, pad_id: int):
        super().__init__()
        self.encoder, self.pad_id = encoder, pad_id

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != self.pad_id).long()
        hidden = self.encoder(ids, mask).last_hidden_state  # (B, T, H), zeros at padding
        return hidden.sum(1) / mask.sum(1, keepdim=True).clamp_min(1)


def _gloss_data(model: Any, objective: str, cfg: ArVsAeConfig) -> tuple[Any, Any, int]:
    """Train/test ArrayDatasets of token ids for the bundled supersense glosses, laid out as in training."""
    from reprlab.data import ArrayDataset, sample_path
    from reprlab.pretrain.causal import end_of_text_id
    from reprlab.pretrain.shards import special_token_ids

    tok = model.tokenizer
    ids = special_token_ids(tok)
    pad = int(ids["pad"] if ids["pad"] is not None else 0)
    first, last = (end_of_text_id(ids), None) if objective == "causal" else (int(ids["cls"] or 0), int(ids["sep"] or 0))
    rows: list[list[int]] = []
    labels: list[int] = []
    names: dict[str, int] = {}
    for line in sample_path("glosses_labeled.tsv").read_text(encoding="utf-8").splitlines():
        label, text = line.split("\t", 1)
        body = tok.encode(text, add_special_tokens=False).ids[:cfg.max_length - 2]
        rows.append([first, *body] if last is None else [first, *body, last])  # as the objective's instances
        labels.append(names.setdefault(label, len(names)))
    width = max(len(r) for r in rows)
    x = torch.full((len(rows), width), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        x[i, :len(r)] = torch.tensor(r)
    y = torch.tensor(labels)
    perm = torch.randperm(len(rows), generator=torch.Generator().manual_seed(cfg.seed))
    tr, te = perm[:cfg.probe_train], perm[cfg.probe_train:]
    return ArrayDataset(x[tr], y[tr], name="glosses"), ArrayDataset(x[te], y[te], name="glosses"), pad


def _transfer(model: Any, objective: str, cfg: ArVsAeConfig, out: Path) -> dict[str, float]:
    from reprlab.transfer import extract_features, fit_classifier, linear_probe

    train, test, pad = _gloss_data(model, objective, cfg)
    features = MeanPooled(model.encoder, pad)
    xtr, _ = extract_features(features, train.x, batch_size=256)
    xte, _ = extract_features(features, test.x, batch_size=256)
    probe = linear_probe(xtr, train.y, xte, test.y, max_iter=2000).accuracy
    steps = cfg.finetune_epochs * (len(train) // 32)
    if (out / "finetune").is_dir():  # a measurement cut short earlier: this one starts over
        import shutil

        shutil.rmtree(out / "finetune")
    tune = fit_classifier(features, model.config.encoder.hidden_size, int(train.y.max()) + 1, train, test,
                          TrainConfig(output_dir=str(out / "finetune"), max_steps=steps, batch_size=32, lr=1e-3,
                                      warmup_steps=steps // 10, schedule="linear", progress=False, save_every=None,
                                      eval_every=None, seed=cfg.seed), encoder_lr_scale=0.1).accuracy
    return {"probe_acc": probe, "finetune_acc": tune}


def _samples(model: Any, objective: str) -> list[str]:
    if objective == "causal":
        from reprlab.pretrain.generate import GenerateConfig, generate_text

        run = str(model.run_dir)
        return [p + "".join(generate_text(GenerateConfig(run=run, prompt=p, max_new_tokens=40, temperature=0)))
                for p in PROMPTS]
    if objective == "roberta":
        from reprlab.pretrain.pretrained import fill_mask

        completions, _ = fill_mask(model, FILL, top_k=5)
        tok = model.tokenizer
        words = [tok.decode([tok.vocab[t]]) for t in completions[0].tokens]  # byte-level pieces as text
        return [f"{FILL} -> " + ", ".join(repr(w) for w in words)]
    return []


def run_ar_vs_ae(cfg: ArVsAeConfig) -> dict[str, Any]:
    """Train the three models for ``cfg.seconds`` each and measure them; writes ``ar_vs_ae.json``."""
    from reprlab.pretrain.instances import InstanceConfig
    from reprlab.pretrain.pretrained import load_pretrained
    from reprlab.pretrain.runs import PretrainRunConfig, run_pretrain

    cfg.validate()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards = _tokenizer_and_shards(cfg, out)
    results: dict[str, Any] = {"config": dataclasses.asdict(cfg), "models": _finished(out, cfg)}
    for objective in cfg.objectives:
        if objective in results["models"]:
            log.info("%s: already measured in %s (same settings); kept", objective, out / "ar_vs_ae.json")
            continue
        run_dir = out / objective
        train = TrainConfig(output_dir=str(run_dir), max_steps=cfg.max_steps, batch_size=cfg.batch_size, lr=cfg.lr,
                            warmup_steps=cfg.warmup_steps, schedule="constant", weight_decay=0.01, max_grad_norm=1.0,
                            eval_every=cfg.eval_every, log_every=10, save_every=None, progress=False,
                            seed=cfg.seed)
        trained = _trained(run_dir, cfg)
        if trained is None:
            run = run_pretrain(PretrainRunConfig(
                shards=str(shards), objective=objective, model=cfg.model, time_budget=cfg.seconds,
                instances=InstanceConfig(max_length=cfg.max_length),
                model_overrides={"hidden_dropout": 0.0, "attention_dropout": 0.0}, train=train))
            trained = {"steps": run.steps, "train_seconds": round(run.train_seconds, 1), **run.evaluation}
            write_json(run_dir / TRAINED, {"config": _settings(cfg), "row": trained})
        else:
            log.info("%s: pretraining already done in %s (same settings); measuring it", objective, run_dir)
        model = load_pretrained(run_dir)
        row: dict[str, Any] = dict(trained)
        row.update(_transfer(model, objective, cfg, run_dir))
        row["samples"] = _samples(model, objective)
        results["models"][objective] = row
        results["config"]["objectives"] = list(results["models"])  # every model measured with these settings
        log.info("%s: %s", objective, {k: v for k, v in row.items() if k != "samples"})
        write_json(out / "ar_vs_ae.json", results)
    return results


TRAINED = "ar_vs_ae_trained.json"  # in each model's run directory: its pretraining is done (steps, held-out metrics)


def _settings(cfg: ArVsAeConfig) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k != "objectives"}


def _trained(run_dir: Path, cfg: ArVsAeConfig) -> dict[str, Any] | None:
    """The pretraining row of a model trained earlier with the same settings (then only the transfer runs)."""
    import json

    path = run_dir / TRAINED
    try:
        record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except json.JSONDecodeError:
        record = None
    if not record or record.get("config") != _settings(cfg):
        return None
    return dict(record["row"])


def _finished(out: Path, cfg: ArVsAeConfig) -> dict[str, Any]:
    """Rows of an earlier run into ``out`` with the same settings (any objectives): a re-run measures only the rest.

    The experiment can so be run one objective at a time (``--set objectives=[causal]``), e.g. to keep
    each CPU-lock hold short; a row of other settings is measured again. A model killed after its
    pretraining but before its row was written keeps the pretraining (``ar_vs_ae_trained.json``)
    and reruns only the probe, fine-tuning and samples; one killed during pretraining starts over.
    """
    import json

    path = out / "ar_vs_ae.json"
    if not path.is_file():
        return {}
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON; measuring every model again", path)
        return {}
    theirs = {k: v for k, v in earlier.get("config", {}).items() if k != "objectives"}
    if _settings(cfg) != theirs:
        return {}
    return {k: v for k, v in earlier.get("models", {}).items() if k in OBJECTIVES}


def table(results: dict[str, Any]) -> str:
    """The markdown table of docs/pretrain.md."""
    lines = ["| model | steps | next-token ppl | PLM ppl | MLM acc | unigram ppl | probe acc | fine-tune acc |",
             "|---|---|---|---|---|---|---|---|"]
    names = {"roberta": "MLM (RoBERTa)", "causal": "causal LM (GPT)", "xlnet": "permutation LM (XLNet)"}
    for name, r in results["models"].items():
        unigram = _cell(r, "unigram_ppl") if "unigram_ppl" in r else (
            f"{2.718281828 ** r['unigram_loss']:.1f}" if "unigram_loss" in r else "—")
        lines.append(f"| {names[name]} | {r['steps']} | {_cell(r, 'lm_ppl')} | {_cell(r, 'plm_ppl')} | "
                     f"{_cell(r, 'mlm_acc', '{:.1%}')} | {unigram} | {_cell(r, 'probe_acc', '{:.1%}')} | "
                     f"{_cell(r, 'finetune_acc', '{:.1%}')} |")
    return "\n".join(lines)


def _cell(row: dict[str, Any], key: str, fmt: str = "{:.1f}") -> str:
    return fmt.format(row[key]) if key in row else "—"
