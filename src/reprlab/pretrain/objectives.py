"""Pretraining objectives on the one ``Encoder``: BERT (MLM + NSP), RoBERTa (MLM), ALBERT (MLM + SOP).

Each objective masks its batch itself (so masks are drawn on the training device and keyed by the
step it knows), runs the encoder, and predicts only the masked positions (the vocabulary
projection, most of a small BERT's FLOPs, runs on ~15% of the rows):

    L = L_MLM + L_pair,   L_MLM = sum over masked pieces of -log p(x_i | x~) / (masked pieces)

where L_pair is the NSP (Devlin et al. 2018, section 3.1) or SOP (Lan et al. 2019, section 4.2)
cross-entropy on the pooled [CLS] vector. Under ``torchrun`` the MLM denominator is the masked-piece
count of the *global* batch (one all-reduce of a scalar), so W processes with batch B/W take the
same step as one process with batch B.

The registry :data:`OBJECTIVES` maps a name (``reprlab pretrain run --objective NAME``) to an
:class:`ObjectiveSpec`: the objective class, its instance scheme, its default masking mode and the
encoder changes the family needs. A new objective (causal LM, XLNet, ERNIE multi-task) is one
``register_objective`` call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from reprlab.errors import ConfigError
from reprlab.pretrain.batches import Layout, PretrainBatch
from reprlab.pretrain.evaluate import evaluate_pretraining
from reprlab.pretrain.knowledge_masking import masking_groups
from reprlab.pretrain.masking import IGNORE_INDEX, MaskingConfig, combine_keys, mask_tokens
from reprlab.text import Encoder, EncoderConfig, MaskedLMHead, SentencePairHead
from reprlab.train import LossOutput, Objective

SentenceTask = Literal["none", "nsp", "sop"]


@dataclass
class PretrainModelConfig:
    """Everything that defines a pretraining model (saved as ``config.json["model"]``)."""

    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig.preset("bert-mini"))
    objective: str = "roberta"  # registry name, see OBJECTIVES
    sentence_task: SentenceTask = "none"  # nsp (BERT) | sop (ALBERT) | none (RoBERTa)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    # Held-out metrics always use BERT's 15% / 80-10-10 piece masking with static masks, so runs
    # trained with other rates (or whole words) are measured on the same corrupted inputs.
    eval_masking: MaskingConfig = field(default_factory=lambda: MaskingConfig(mode="static"))
    mask_token_id: int = 4
    special_ids: list[int] = field(default_factory=list)  # never drawn as random replacements
    vocab_hash: str = ""  # of the tokenizer the model was trained with (shards/meta.json); "" = unchecked
    partial_prediction_k: int = 6  # xlnet: predict the last 1/K of each factorization order (XLNet: K = 6)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainModelConfig:
        """Inverse of ``dataclasses.asdict`` (the ``class`` key of ``config_dict`` is ignored)."""
        data = {k: v for k, v in data.items() if k != "class"}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"PretrainModelConfig: unknown field(s) {unknown}")
        data["encoder"] = EncoderConfig.from_dict(data.get("encoder", {}))
        for name in ("masking", "eval_masking"):
            if name in data:
                data[name] = MaskingConfig(**data[name])
        return cls(**data)


class PretrainingObjective(Objective):
    """Masked LM plus an optional sentence-pair head, for the Trainer.

    Parameters
    ----------
    config : PretrainModelConfig

    Attributes
    ----------
    encoder : Encoder
    mlm : MaskedLMHead
        Decoder tied to the token embeddings.
    pair : SentencePairHead or None
        NSP/SOP classifier on the pooled [CLS] vector.
    """

    config: PretrainModelConfig
    random_ids: torch.Tensor
    masking_step: torch.Tensor

    def __init__(self, config: PretrainModelConfig):
        super().__init__()
        config.masking.validate()
        config.eval_masking.validate()
        if config.sentence_task != "none" and not config.encoder.pooler:
            raise ConfigError(f"sentence_task={config.sentence_task!r} classifies the pooled [CLS] vector; "
                              "the encoder needs pooler=true")
        self.config = config
        self.encoder = Encoder(config.encoder)
        self.mlm = MaskedLMHead(config.encoder, self.encoder.token_embedding)
        self.pair = SentencePairHead(config.encoder.hidden_size) if config.sentence_task != "none" else None
        banned = set(config.special_ids) | {config.mask_token_id}
        pool = torch.tensor([i for i in range(config.encoder.vocab_size) if i not in banned], dtype=torch.long)
        self.register_buffer("random_ids", pool, persistent=False)
        # The step this objective last finished; saved with the weights so a resumed run keys its
        # dynamic masks exactly as the uninterrupted run did.
        self.register_buffer("masking_step", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ masking
    def mask_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """Hash keys of the rows: (seed, instance) when static or evaluating, plus the step when dynamic."""
        m = self.config.masking if self.training else self.config.eval_masking
        if m.mode != "static" and self.training:  # None counts as dynamic
            return combine_keys(m.seed, keys, self.masking_step.to(keys.device))
        return combine_keys(m.seed, keys)

    def mask(self, batch: PretrainBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Corrupted input ids and MLM labels (-100 where not predicted) for ``batch``.

        Training uses ``config.masking``; evaluation (``eval()`` mode) ``config.eval_masking``.
        """
        m = self.config.masking if self.training else self.config.eval_masking
        keys = self.mask_keys(batch.keys)
        return mask_tokens(batch.input_ids, batch.special_tokens_mask, vocab_size=self.config.encoder.vocab_size,
                           mask_token_id=self.config.mask_token_id, mlm_probability=m.mlm_probability,
                           mask_replace_prob=m.mask_replace_prob, random_replace_prob=m.random_replace_prob,
                           max_predictions=m.max_predictions, keys=keys, random_ids=self.random_ids,
                           word_ids=masking_groups(batch, m, int(self.masking_step), keys),
                           unit_replacement=m.span_replacement)

    def on_step_end(self, step: int) -> None:
        self.masking_step.fill_(step)

    # ------------------------------------------------------------------ loss
    def _label_denominator(self, count: torch.Tensor) -> torch.Tensor:
        """``count`` labels (masked pieces, task labels) of this process's batch, or under DDP the global
        batch's count divided by the number of processes, so averaged gradients are one process's."""
        dist = torch.distributed
        if self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            total = count.detach().float().clone()
            dist.all_reduce(total)
            return total / dist.get_world_size()
        return count.float()

    def forward(self, batch: PretrainBatch) -> LossOutput:
        ids, labels = self.mask(batch)
        types = batch.token_type_ids if self.config.encoder.type_vocab_size > 1 else None
        out = self.encoder(ids, batch.attention_mask, types)
        positions = labels != IGNORE_INDEX  # (B, T)
        logits = self.mlm(out.last_hidden_state, positions)  # (N, V), masked rows only
        targets = labels[positions]  # (N,)
        count = positions.sum()
        ce = F.cross_entropy(logits.float(), targets, reduction="sum")
        mlm_loss = ce / self._label_denominator(count).clamp_min(1.0)
        n = count.clamp_min(1).float()
        hit = logits.detach().argmax(-1) == targets
        metrics: dict[str, Any] = {"mlm_loss": ce.detach() / n, "mlm_acc": hit.sum().float() / n}
        if "span_kind" in batch.extras:  # shards with phrase/entity spans: accuracy on the pieces inside them
            inside = batch.extras["span_kind"][positions] > 0
            metrics["span_acc"] = (hit & inside).sum().float() / inside.sum().clamp_min(1)
        loss = mlm_loss
        if self.pair is not None:
            task = self.config.sentence_task
            pair_logits = self.pair(out.pooled)  # (B, 2)
            pair_loss = F.cross_entropy(pair_logits.float(), batch.sentence_labels, ignore_index=IGNORE_INDEX)
            loss = loss + pair_loss
            valid = batch.sentence_labels != IGNORE_INDEX
            metrics[f"{task}_loss"] = pair_loss.detach()
            metrics[f"{task}_acc"] = ((pair_logits.detach().argmax(-1) == batch.sentence_labels) & valid).sum() \
                / valid.sum().clamp_min(1)
        return LossOutput(loss, metrics, num_items=batch.num_tokens)


class BertForPretraining(PretrainingObjective):
    """BERT: masked LM + next-sentence prediction (Devlin et al. 2018)."""


class RobertaForPretraining(PretrainingObjective):
    """RoBERTa: masked LM only, dynamic masking, FULL-SENTENCES (Liu et al. 2019)."""


class AlbertForPretraining(PretrainingObjective):
    """ALBERT: masked LM + sentence-order prediction on factorized, shared layers (Lan et al. 2019)."""


# ---------------------------------------------------------------------------------------- registry
def _bert_encoder(config: EncoderConfig, special_ids: dict[str, int | None]) -> EncoderConfig:
    return config


def _roberta_encoder(config: EncoderConfig, special_ids: dict[str, int | None]) -> EncoderConfig:
    # One segment, no pooler; positions numbered from pad + 1 as HF RoBERTa does.
    pad = int(special_ids.get("pad") or 0)
    return config.replace(type_vocab_size=1, pooler=False, position_offset=pad + 1,
                          max_position=config.max_position + pad + 1)


def _albert_encoder(config: EncoderConfig, special_ids: dict[str, int | None]) -> EncoderConfig:
    # E = 128 as ALBERT (at most H/2 for tiny models: HF ALBERT always has the E -> H projection)
    return config.replace(embedding_size=min(128, config.hidden_size // 2), sharing="all")


@dataclass(frozen=True)
class ObjectiveSpec:
    """A named pretraining objective.

    Attributes
    ----------
    name : str
    model_class : callable
        ``PretrainModelConfig -> Objective``.
    packing : str
        Default instance scheme (a key of :data:`reprlab.pretrain.instances.BUILDERS`).
    sentence_task : str
        ``nsp``, ``sop`` or ``none``.
    masking_mode : str
        Default masking mode (``static`` for BERT, ``dynamic`` for RoBERTa/ALBERT).
    encoder : callable
        ``(preset EncoderConfig, special ids) -> EncoderConfig`` with the family's changes.
    hf_architectures : tuple of str
        HF classes the trained model exports to; the first is the default.
    masked_lm : bool
        The objective masks tokens (the shards' tokenizer must have a mask token).
    layout : callable
        ``special ids -> Layout``: the special tokens around an instance (BERT's [CLS] A [SEP] by
        default; the causal LM puts one end-of-text token first and between documents).
    evaluate : callable
        ``(objective, dataset, *, batch_size, pad_id, unigram) -> dict``: held-out metrics
        (default :func:`~reprlab.pretrain.evaluate.evaluate_pretraining`, the MLM ones).
    config_class : type
        The model config (``config.json["model"]["class"]``): :class:`PretrainModelConfig` or a
        subclass with the objective's own fields.
    data : callable or None
        ``(run config, train ShardSet, valid ShardSet or None, Layout) -> MultiTaskData``-like
        object (``train``, ``valid``, ``stats``, ``model_fields``, ``collate``) for objectives that
        build their own datasets (ERNIE 2.0's multi-task runs); ``None`` = the instances of ``packing``.
    """

    name: str
    model_class: Callable[[PretrainModelConfig], Objective]
    packing: str
    sentence_task: SentenceTask
    masking_mode: Literal["static", "dynamic"]
    encoder: Callable[[EncoderConfig, dict[str, int | None]], EncoderConfig]
    hf_architectures: tuple[str, ...] = ()
    masked_lm: bool = True
    layout: Callable[[dict[str, int | None]], Layout] = Layout.from_special_ids
    evaluate: Callable[..., dict[str, Any]] = evaluate_pretraining
    config_class: type[PretrainModelConfig] = PretrainModelConfig
    data: Callable[..., Any] | None = None


#: Objective name -> spec. Add one with :func:`register_objective`.
OBJECTIVES: dict[str, ObjectiveSpec] = {}


def register_objective(spec: ObjectiveSpec) -> ObjectiveSpec:
    """Make ``spec`` available as ``--objective spec.name``."""
    OBJECTIVES[spec.name] = spec
    return spec


def get_objective(name: str) -> ObjectiveSpec:
    if name not in OBJECTIVES:
        raise ConfigError(f"objective={name!r}: choose one of {', '.join(sorted(OBJECTIVES))}")
    return OBJECTIVES[name]


register_objective(ObjectiveSpec("bert", BertForPretraining, "nsp", "nsp", "static", _bert_encoder,
                                 ("BertForPreTraining", "BertForMaskedLM")))
register_objective(ObjectiveSpec("roberta", RobertaForPretraining, "full-sentences", "none", "dynamic",
                                 _roberta_encoder, ("RobertaForMaskedLM",)))
register_objective(ObjectiveSpec("albert", AlbertForPretraining, "sop", "sop", "dynamic", _albert_encoder,
                                 ("AlbertForPreTraining", "AlbertForMaskedLM")))

# The autoregressive objectives register themselves (their modules import this one).
from reprlab.pretrain import causal as _causal  # noqa: E402, F401
from reprlab.pretrain import multitask as _multitask  # noqa: E402, F401  (ERNIE 2.0 multi-task)
from reprlab.pretrain import xlnet as _xlnet  # noqa: E402, F401
