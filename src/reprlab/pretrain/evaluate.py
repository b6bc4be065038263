"""Held-out evaluation of a masked LM (loss, perplexity, accuracy, NSP/SOP accuracy) and baselines.

Every number is a token-weighted mean over all masked pieces of the split (not a mean of batch
means), with the masks of static masking keyed by instance number, so two evaluations of the same
model on the same shards agree exactly and two models can be compared on identical masks. Two
baselines that need no model put the numbers in context: the cross-entropy of the training-split
unigram distribution on the same targets (``unigram_loss``) and the accuracy of always predicting
the most frequent training token (``most_frequent_acc``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from reprlab.pretrain.batches import Collator, PretrainBatch
from reprlab.pretrain.masking import IGNORE_INDEX
from reprlab.pretrain.shards import ShardSet
from reprlab.train import move_to

#: (batch, corrupted ids (B, T), positions (B, T) bool) -> (logits (N, V) at the positions,
#: sentence-pair logits (B, 2) or None)
MaskedPredictor = Callable[[PretrainBatch, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


def unigram_counts(shards: ShardSet) -> np.ndarray:
    """Token frequencies (V,) over a split (add-one smoothed, so every id has a probability)."""
    counts = np.ones(shards.vocab_size, dtype=np.int64)
    for shard in shards.shards:
        counts += np.bincount(np.asarray(shard.array("tokens")), minlength=shards.vocab_size)[:shards.vocab_size]
    return counts


def evaluate_masked_lm(predict: MaskedPredictor, batches: Iterable[tuple[PretrainBatch, torch.Tensor, torch.Tensor]],
                       *, unigram: np.ndarray | None = None) -> dict[str, Any]:
    """Token-weighted MLM metrics of ``predict`` over ``(batch, corrupted ids, labels)`` triples.

    When ``predict`` returns sentence-pair logits, ``pair_acc`` is the accuracy over the rows that
    have a sentence label and ``pair_balanced_acc`` the mean of the per-label recalls, which is 0.5
    for any constant prediction whatever the label mix (BERT's NSP sets are not 50/50: a one-segment
    chunk always takes a random next, so a held-out set of a few documents can be 68/32).
    ``unigram`` (token counts) adds the two baselines.

    Accuracy and baselines count every selected piece, the 10% left unchanged by 80/10/10 included
    (its input is its target, which a model learns to copy, and so does the most-frequent baseline
    when that token was kept). ``mlm_acc_replaced`` / ``most_frequent_acc_replaced`` restrict both
    to the pieces whose input differs from the target ([MASK] or a random token), and
    ``kept_fraction`` is the share of unchanged pieces. When the batches carry the shards' phrase and
    entity spans (``extras["span_kind"]``), ``phrase_acc``, ``entity_acc`` and ``span_acc`` (both)
    are the accuracy over the masked pieces inside phrases, entities and either, with their counts
    (``phrase_tokens``, ...): ERNIE 1.0's claim is that knowledge masking helps exactly there.
    """
    total_ce = total_correct = total = 0.0
    rep_correct = rep_total = uni_rep_correct = 0.0
    kind_hits = torch.zeros(3, dtype=torch.long)  # per span kind (word, phrase, entity): correct, masked
    kind_rows = torch.zeros(3, dtype=torch.long)
    spans = False
    uni_ce = uni_correct = 0.0
    pair_hits = torch.zeros(2, dtype=torch.long)  # per sentence label: correct predictions, rows
    pair_rows = torch.zeros(2, dtype=torch.long)
    log_p: torch.Tensor | None = None
    most = 0
    if unigram is not None:
        log_p = torch.from_numpy(np.log(unigram / unigram.sum()))
        most = int(np.argmax(unigram))
    with torch.no_grad():
        for batch, ids, labels in batches:
            positions = labels != IGNORE_INDEX
            targets = labels[positions]
            logits, pair = predict(batch, ids, positions)
            logits = logits.float()
            total_ce += float(F.cross_entropy(logits, targets, reduction="sum"))
            hits = logits.argmax(-1) == targets
            replaced = ids[positions] != targets
            total_correct += float(hits.sum())
            total += int(targets.numel())
            rep_correct += float((hits & replaced).sum())
            rep_total += int(replaced.sum())
            extras = getattr(batch, "extras", {})
            if "span_kind" in extras:
                spans = True
                kind = extras["span_kind"][positions].long().clamp(0, 2).cpu()
                kind_hits += torch.bincount(kind, weights=hits.cpu().double(), minlength=3).long()
                kind_rows += torch.bincount(kind, minlength=3)
            if log_p is not None:
                uni_ce -= float(log_p[targets.cpu()].sum())
                uni_correct += float(torch.eq(targets, most).sum())
                uni_rep_correct += float((torch.eq(targets, most) & replaced).sum())
            if pair is not None:
                valid = batch.sentence_labels != IGNORE_INDEX
                truth = batch.sentence_labels[valid].long().cpu()
                hit = (pair.argmax(-1)[valid].cpu() == truth).long()
                pair_hits += torch.bincount(truth, weights=hit, minlength=2).long()
                pair_rows += torch.bincount(truth, minlength=2)
    n = max(total, 1)
    out: dict[str, Any] = {"mlm_loss": total_ce / n, "mlm_ppl": math.exp(min(total_ce / n, 50.0)),
                           "mlm_acc": total_correct / n, "masked_tokens": int(total),
                           "mlm_acc_replaced": rep_correct / max(rep_total, 1), "kept_fraction": 1 - rep_total / n}
    if log_p is not None:
        out.update(unigram_loss=uni_ce / n, most_frequent_acc=uni_correct / n,
                   most_frequent_acc_replaced=uni_rep_correct / max(rep_total, 1))
    if spans:
        for name, sel in (("phrase", [1]), ("entity", [2]), ("span", [1, 2])):
            rows = int(kind_rows[sel].sum())
            out[f"{name}_acc"] = int(kind_hits[sel].sum()) / rows if rows else None
            out[f"{name}_tokens"] = rows
    pair_total = int(pair_rows.sum())
    if pair_total:
        present = pair_rows > 0
        recall = pair_hits[present].double() / pair_rows[present].double()
        out.update(pair_acc=int(pair_hits.sum()) / pair_total, pair_balanced_acc=float(recall.mean()),
                   pair_rows=pair_total, pair_label_1_rate=int(pair_rows[1]) / pair_total)
    return out


def masked_batches(objective: Any, dataset: Dataset, *, batch_size: int = 64,
                   pad_id: int = 0) -> Iterable[tuple[PretrainBatch, torch.Tensor, torch.Tensor]]:
    """``(batch, corrupted ids, labels)`` with the objective's evaluation (static) masks."""
    was = objective.training
    objective.eval()
    device = next(objective.parameters()).device
    try:
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=Collator(pad_id)):
            batch = move_to(batch, device)
            ids, labels = objective.mask(batch)
            yield batch, ids, labels
    finally:
        objective.train(was)


def evaluate_pretraining(objective: Any, dataset: Dataset, *, batch_size: int = 64, pad_id: int = 0,
                         unigram: np.ndarray | None = None) -> dict[str, Any]:
    """Held-out MLM loss/perplexity/accuracy (and NSP/SOP accuracy) of a pretraining objective."""
    enc, head, pair = objective.encoder, objective.mlm, getattr(objective, "pair", None)
    two_segments = enc.config.type_vocab_size > 1

    def predict(batch, ids, positions):
        out = enc(ids, batch.attention_mask, batch.token_type_ids if two_segments else None)
        return head(out.last_hidden_state, positions), (pair(out.pooled) if pair is not None else None)

    out = evaluate_masked_lm(predict, masked_batches(objective, dataset, batch_size=batch_size, pad_id=pad_id),
                             unigram=unigram)
    if "pair_acc" in out:
        task = objective.config.sentence_task
        for key in ("acc", "balanced_acc", "rows", "label_1_rate"):
            out[f"{task}_{key}"] = out.pop(f"pair_{key}")
    if "span_acc" in out:  # again with every phrase and entity masked whole: can the model recall the unit?
        config = objective.config
        piece = config.eval_masking
        config.eval_masking = dataclasses.replace(piece, unit="knowledge", whole_word=False)
        try:
            whole = evaluate_masked_lm(predict, masked_batches(objective, dataset, batch_size=batch_size,
                                                               pad_id=pad_id))
        finally:
            config.eval_masking = piece
        out.update({f"knowledge_{k}": v for k, v in whole.items()
                    if k.split("_")[0] in ("mlm", "masked", "phrase", "entity", "span")})
    return out


#: batch -> (logits (N, V), targets (N,)) at the positions the objective predicts
TokenPredictor = Callable[[PretrainBatch], tuple[torch.Tensor, torch.Tensor]]


def evaluate_tokens(objective: Any, dataset: Dataset, predict: TokenPredictor, *, prefix: str, batch_size: int = 64,
                    pad_id: int = 0, unigram: np.ndarray | None = None) -> dict[str, Any]:
    """Token-weighted ``{prefix}_loss``, ``_ppl`` and ``_acc`` of ``predict`` over a split, in eval mode.

    For objectives that are not masked LMs (causal, permutation LM). ``unigram`` (token counts)
    adds the cross-entropy of the unigram distribution on the same targets (``unigram_loss``,
    ``unigram_ppl``): the baseline a model must beat to have learnt anything beyond frequencies.
    """
    was = objective.training
    objective.eval()
    device = next(objective.parameters()).device
    log_p = torch.from_numpy(np.log(unigram / unigram.sum())) if unigram is not None else None
    total = ce = correct = uni = 0.0
    try:
        with torch.no_grad():
            for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=Collator(pad_id)):
                logits, y = predict(move_to(batch, device))
                logits = logits.float()
                ce += float(F.cross_entropy(logits, y, reduction="sum"))
                correct += float((logits.argmax(-1) == y).sum())
                total += int(y.numel())
                if log_p is not None:
                    uni -= float(log_p[y.cpu()].sum())
    finally:
        objective.train(was)
    n = max(total, 1)
    out: dict[str, Any] = {f"{prefix}_loss": ce / n, f"{prefix}_ppl": math.exp(min(ce / n, 50.0)),
                           f"{prefix}_acc": correct / n, "predicted_tokens": int(total)}
    if log_p is not None:
        out.update(unigram_loss=uni / n, unigram_ppl=math.exp(min(uni / n, 50.0)))
    return out
