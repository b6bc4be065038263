"""Training a :class:`TextTaskModel`: the objective, layer-wise learning rates, freezing, probes on caches.

Fine-tuning (``mode="finetune"``) trains the encoder and the head through the shared Trainer:

* ``train_layers = k`` unfreezes only the top k blocks (and the pooler and head); ``None`` trains
  every layer;
* layer-wise learning-rate decay (Howard & Ruder 2018, ULMFiT "discriminative fine-tuning";
  Clark et al. 2020, ELECTRA appendix A): with L blocks, depth 0 for the embeddings, depth l for
  block l and depth L + 1 for the pooler, aggregator and head, the peak rate at depth d is
  ``lr * decay ** (L + 1 - d)``;
* warmup + linear decay, evaluation on a validation split, early stopping and the best
  checkpoint kept (:class:`reprlab.train.EarlyStopping`, :class:`reprlab.train.KeepBest`).

Feature extraction (``mode="features"``) freezes the encoder, computes the pooled layer vectors of
every example **once** (:func:`cached_features`) and trains only the head on the cache
(:class:`CachedHeadObjective`), with the same Trainer and callbacks.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reprlab.train import LossOutput, Objective, param_groups
from reprlab.transfer.text_inputs import Example, collate
from reprlab.transfer.text_tasks import TextTaskModel, task_loss


def depth_of(name: str, num_layers: int) -> int:
    """Depth of a TextTaskModel parameter: 0 embeddings, l for block l (1..L), L + 1 for the rest."""
    if name.startswith("encoder.embeddings."):
        return 0
    if name.startswith("encoder.layers."):
        return int(name.split(".")[2]) + 1
    return num_layers + 1  # pooler, final norm, mix, aggregator, head


def layerwise_lr_groups(model: TextTaskModel, lr: float, decay: float, weight_decay: float) -> list[dict[str, Any]]:
    """Optimizer groups with ``lr * decay ** (L + 1 - depth)``; decay/no-decay split as in :func:`param_groups`.

    Frozen parameters (``requires_grad=False``) are left out. A parameter shared by several blocks
    (ALBERT) gets the rate of its first block.
    """
    num_layers = model.encoder.config.num_layers
    no_decay_ids = {id(p) for g in param_groups(model, weight_decay) if g["weight_decay"] == 0.0 for p in g["params"]}
    groups: dict[tuple[int, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():  # shared tensors are yielded once, under their first name
        if not p.requires_grad:
            continue
        key = (depth_of(name, num_layers), id(p) in no_decay_ids)
        groups.setdefault(key, []).append(p)
    return [{"params": ps, "lr": lr * decay ** (num_layers + 1 - d), "weight_decay": 0.0 if nd else weight_decay,
             "depth": d} for (d, nd), ps in sorted(groups.items())]


def freeze_below(model: TextTaskModel, train_layers: int | None) -> None:
    """Freeze the embeddings and every block below the top ``train_layers`` (None: train all; 0: head only)."""
    num_layers = model.encoder.config.num_layers
    if train_layers is None:
        return
    for name, p in model.encoder.named_parameters():
        d = depth_of("encoder." + name, num_layers)
        if d <= num_layers - train_layers:
            p.requires_grad_(False)


class TextTaskObjective(Objective):
    """Cross-entropy of a :class:`TextTaskModel` on collated batches (fine-tuning).

    Parameters
    ----------
    model : the task model (the Trainer trains whatever requires grad).
    lr : the head's peak rate (the Trainer's ``lr``); lower layers get ``lr * decay ** (L + 1 - d)``.
    layer_decay : 1.0 = one rate for all.
    config : JSON-ready description written to the run's ``config.json``.
    """

    def __init__(self, model: TextTaskModel, *, lr: float, layer_decay: float = 1.0,
                 config: dict[str, Any] | None = None):
        super().__init__()
        self.model = model
        self.lr, self.layer_decay = lr, layer_decay
        self.config = config or {}

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]] | None:
        return layerwise_lr_groups(self.model, self.lr, self.layer_decay, weight_decay)

    def train(self, mode: bool = True) -> TextTaskObjective:
        super().train(mode)
        if not any(p.requires_grad for p in self.model.encoder.parameters()):
            self.model.encoder.eval()  # a frozen encoder also keeps dropout off
        return self

    def forward(self, batch: dict[str, torch.Tensor]) -> LossOutput:
        logits = self.model(batch)
        loss, acc = task_loss(logits, batch["labels"])
        return LossOutput(loss, {"acc": acc}, num_items=len(batch["labels"]))


@torch.no_grad()
def cached_features(model: TextTaskModel, examples: list[Example], *, batch_size: int = 64,
                    pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Run the frozen stages once over ``examples``: ``features`` (N, K, L', H), ``window_mask``, ``labels``.

    Examples are sorted by length for batching (less padding) and returned in their given order.
    Tagging examples have per-token features (N, T, L', H) padded to the longest example.
    """
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: max(len(w) for w in examples[i].ids))
    feats: list[torch.Tensor | None] = [None] * len(examples)
    masks: list[torch.Tensor | None] = [None] * len(examples)
    try:
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            batch = collate([examples[i] for i in idx], pad_id)
            f = model.window_features({k: v.to(device) for k, v in batch.items()}).float().cpu()
            for j, i in enumerate(idx):
                feats[i], masks[i] = f[j], batch["window_mask"][j]
    finally:
        model.train(was)
    shapes = [fi.shape for fi in feats if fi is not None]
    width = max(sh[0] for sh in shapes)
    features = torch.zeros(len(examples), width, *shapes[0][1:])
    window_mask = torch.zeros(len(examples), max(len(e.ids) for e in examples), dtype=torch.bool)
    for i, (fi, mi) in enumerate(zip(feats, masks)):
        assert fi is not None and mi is not None
        features[i, :fi.shape[0]] = fi
        window_mask[i, :mi.shape[0]] = mi
    labels = collate(examples, pad_id)["labels"]
    if labels.dim() == 2 and labels.shape[1] < width:
        labels = torch.nn.functional.pad(labels, (0, width - labels.shape[1]), value=-100)
    return {"features": features, "window_mask": window_mask, "labels": labels[:, :width] if labels.dim() == 2 else labels}


class CachedDataset(torch.utils.data.Dataset):
    """Rows of a :func:`cached_features` dict (the Trainer batches them with ``default_collate``)."""

    def __init__(self, cache: dict[str, torch.Tensor]):
        self.cache = cache

    def __len__(self) -> int:
        return len(self.cache["labels"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.cache.items()}


class CachedHeadObjective(Objective):
    """Train only the trainable stages of a :class:`TextTaskModel` on cached frozen features."""

    def __init__(self, model: TextTaskModel, config: dict[str, Any] | None = None):
        super().__init__()
        self.model = model
        for p in model.encoder.parameters():
            p.requires_grad_(False)
        self.config = config or {}

    def train(self, mode: bool = True) -> CachedHeadObjective:
        super().train(mode)
        self.model.encoder.eval()
        return self

    def forward(self, batch: dict[str, torch.Tensor]) -> LossOutput:
        logits = self.model.head_logits(batch["features"], batch["window_mask"])
        loss, acc = task_loss(logits, batch["labels"])
        return LossOutput(loss, {"acc": acc}, num_items=len(batch["labels"]))


__all__ = ["depth_of", "layerwise_lr_groups", "freeze_below", "TextTaskObjective", "cached_features",
           "CachedDataset", "CachedHeadObjective"]
