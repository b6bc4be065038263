"""A pretraining run directory as a model: load it in one call, fill in masks, export to HF.

A run directory (``reprlab pretrain run -o RUN``) holds, besides the Trainer's files
(``config.json``, ``model.safetensors``, ``metrics.jsonl``, ``checkpoint-*/``)::

    RUN/
      tokenizer/          the tokenizer the shards were made with (reprlab's format)
      pretrain.json       the PretrainRunConfig of the run
      evaluation.json     held-out metrics and baselines at the end of the run

:func:`load_pretrained` rebuilds the objective from ``config.json["model"]`` and returns the
encoder, its heads and the tokenizer; :func:`to_hf` writes a directory that
``transformers.BertForPreTraining`` / ``BertForMaskedLM`` / ``RobertaForMaskedLM`` /
``AlbertForPreTraining`` / ``AlbertForMaskedLM`` ``.from_pretrained`` loads with the same logits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from reprlab.errors import CheckpointError, ConfigError, DataError
from reprlab.io import atomic_path, write_json
from reprlab.pretrain.objectives import OBJECTIVES, PretrainingObjective, PretrainModelConfig, get_objective
from reprlab.text import Encoder, MaskedLMHead, SentencePairHead
from reprlab.text.interop import config_to_hf, hf_family, mlm_head_to_hf_state, pair_head_to_hf_state, to_hf_state

TOKENIZER_DIR = "tokenizer"


@dataclass
class PretrainedModel:
    """What :func:`load_pretrained` returns.

    Attributes
    ----------
    objective : Objective
        The whole model (eval mode); ``objective.encoder`` etc. are the parts. A
        :class:`PretrainingObjective` for the masked LMs, a ``CausalLMObjective`` or
        ``PermutationLMObjective`` for ``causal`` / ``xlnet`` runs.
    tokenizer : Tokenizer
    config : PretrainModelConfig
    run_dir : Path
    """

    objective: Any
    tokenizer: Any
    config: PretrainModelConfig
    run_dir: Path

    @property
    def encoder(self) -> Encoder:
        return self.objective.encoder

    @property
    def mlm_head(self) -> MaskedLMHead:
        if not isinstance(self.objective, PretrainingObjective):
            raise ConfigError(f"{self.run_dir}: a {self.config.objective} run has no masked-LM head; fill and "
                              "masked-LM evaluation need a bert, roberta or albert run")
        return self.objective.mlm

    @property
    def pair_head(self) -> SentencePairHead | None:
        return getattr(self.objective, "pair", None)

    @property
    def heads(self) -> dict[str, torch.nn.Module]:
        """``{"mlm": ..., "nsp" | "sop": ...}`` plus an ``ernie`` run's auxiliary heads by task name."""
        if not isinstance(self.objective, PretrainingObjective):
            head = getattr(self.objective, "lm_head", None)  # xlnet; the causal LM's output layer is the token table
            return {"plm": head} if head is not None else {}
        out: dict[str, torch.nn.Module] = {"mlm": self.objective.mlm}
        if self.objective.pair is not None:
            out[self.config.sentence_task] = self.objective.pair
        out.update(getattr(self.objective, "aux", {}))  # ERNIE 2.0 auxiliary heads
        return out


def _weights(run: Path, checkpoint: str | None) -> Path:
    from reprlab.train.checkpoint import latest_checkpoint

    if checkpoint is not None:
        path = run / checkpoint / "model.safetensors"
    elif (run / "model.safetensors").is_file():
        path = run / "model.safetensors"
    else:  # a run that was stopped before it finished: its newest checkpoint
        ckpt = latest_checkpoint(run)
        if ckpt is None:
            raise CheckpointError(f"{run}: no model.safetensors and no checkpoint-*/; is this a finished "
                                  "`reprlab pretrain run` directory?")
        path = ckpt / "model.safetensors"
    return path


def load_pretrained(run_dir: str | Path, *, checkpoint: str | None = None,
                    device: str | torch.device = "cpu") -> PretrainedModel:
    """Load a pretraining run: encoder, heads and tokenizer in one call.

    Parameters
    ----------
    run_dir : str or Path
        A ``reprlab pretrain run`` output directory.
    checkpoint : str, optional
        A ``checkpoint-NNNNNN`` directory name inside the run (default: the final weights, or the
        newest checkpoint of an unfinished run).
    device : str or torch.device

    Raises
    ------
    MissingDataError, CheckpointError, DataError
        Missing files, weights that do not fit the configuration, a tokenizer that is not the
        run's (vocabulary hash).
    """
    from reprlab.pretrain.shards import vocab_hash
    from reprlab.tokenizers.loading import load_tokenizer
    from reprlab.train.checkpoint import load_module

    run = Path(run_dir)
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{run}: no config.json; pass a `reprlab pretrain run` output directory")
    try:
        model_cfg = json.loads(cfg_path.read_text())["model"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{cfg_path}: not a pretraining run config ({e})") from None
    if not isinstance(model_cfg, dict):
        raise CheckpointError(f"{cfg_path}: field 'model' is not an object; not a pretraining run config")
    spec = OBJECTIVES.get(model_cfg.get("objective", "roberta"))
    if spec is None or model_cfg.get("class") != spec.config_class.__name__:
        raise CheckpointError(f"{cfg_path}: holds a {model_cfg.get('class')!r} model, not a pretraining run")
    config = spec.config_class.from_dict(model_cfg)
    objective = spec.model_class(config)
    load_module(objective, _weights(run, checkpoint))
    tokenizer = load_tokenizer(run / TOKENIZER_DIR)
    if config.vocab_hash and vocab_hash(tokenizer) != config.vocab_hash:
        raise DataError(f"{run / TOKENIZER_DIR}: vocabulary hash differs from the run's ({config.vocab_hash[:19]}...); "
                        "the tokenizer directory was replaced")
    return PretrainedModel(objective=objective.to(device).eval(), tokenizer=tokenizer, config=config, run_dir=run)


# ------------------------------------------------------------------------------------------ fill-mask
@dataclass
class Completion:
    """Top-k tokens at one masked position."""

    position: int
    tokens: list[str]
    probabilities: list[float]


def fill_mask(model: PretrainedModel, text: str, top_k: int = 5) -> tuple[list[Completion], str]:
    """Top-k predictions at every ``[MASK]`` of ``text`` (the seed's "BERT fills in missing words").

    ``[MASK]`` is written literally; for a tokenizer whose mask token is another string (``<mask>``)
    either form works. Returns the completions and the text with each mask replaced by its top token.
    """
    from reprlab.pretrain.shards import special_token_ids

    tok = model.tokenizer
    ids = special_token_ids(tok)
    mask_id = ids["mask"]
    if mask_id is None:
        raise DataError("the run's tokenizer has no mask token; fill needs one ([MASK] or <mask>)")
    mask_str = tok.id_to_token(mask_id)
    if mask_str not in text and "[MASK]" in text:
        text = text.replace("[MASK]", mask_str)
    enc = tok.encode(text, max_length=model.config.encoder.max_length, truncation=True)
    input_ids = torch.tensor([enc.ids])
    positions = input_ids == mask_id
    if not bool(positions.any()):
        raise DataError(f"no {mask_str} in {text!r}; write it where a word is missing, e.g. 'the {mask_str} sat'")
    enc_model = model.encoder
    device = next(enc_model.parameters()).device
    with torch.no_grad():
        hidden = enc_model(input_ids.to(device), torch.ones_like(input_ids).to(device)).last_hidden_state
        probs = model.mlm_head(hidden, positions.to(device)).softmax(-1)  # (M, V)
    top = probs.topk(top_k, dim=-1)
    out, filled = [], list(enc.ids)
    for row, pos in enumerate(positions[0].nonzero().squeeze(1).tolist()):
        toks = [tok.id_to_token(int(i)) for i in top.indices[row]]
        out.append(Completion(position=pos, tokens=toks, probabilities=[float(p) for p in top.values[row]]))
        filled[pos] = int(top.indices[row, 0])
    return out, tok.decode(filled, skip_special_tokens=True)


# ------------------------------------------------------------------------------------------ HF export
def write_hf_tokenizer(tokenizer: Any, directory: Path, model_max_length: int | None = None) -> None:
    """The one place that writes tokenizer files into an exported HF directory.

    The tokenizer's ``save_pretrained``: its vocabulary files plus HF's ``tokenizer.json``,
    ``tokenizer_config.json`` and ``special_tokens_map.json``, which ``tokenizers.Tokenizer.from_file``
    and ``transformers.AutoTokenizer.from_pretrained`` load as they are (WordPiece, classic and
    byte-level BPE).
    """
    tokenizer.save_pretrained(directory, model_max_length=model_max_length)


def to_hf(model: PretrainedModel | PretrainingObjective, directory: str | Path, architecture: str | None = None,
          *, tokenizer: Any = None) -> Path:
    """Write a HF ``from_pretrained`` directory for the model with its heads.

    Parameters
    ----------
    model : PretrainedModel or PretrainingObjective
    directory : str or Path
    architecture : str, optional
        ``BertForPreTraining`` / ``BertForMaskedLM`` (objective bert), ``RobertaForMaskedLM``
        (roberta), ``AlbertForPreTraining`` / ``AlbertForMaskedLM`` (albert); default the first.
    tokenizer : optional
        Written beside the weights (default: the PretrainedModel's).

    Raises
    ------
    ConfigError
        An architecture the model cannot become (e.g. ``BertForPreTraining`` without an NSP head).
    """
    objective = model.objective if isinstance(model, PretrainedModel) else model
    if tokenizer is None and isinstance(model, PretrainedModel):
        tokenizer = model.tokenizer
    config = objective.config
    spec = get_objective(config.objective)
    if not isinstance(objective, PretrainingObjective):
        return _to_hf_autoregressive(objective, Path(directory), architecture, tokenizer)
    family = hf_family(config.encoder)
    allowed = {f"{family.capitalize()}ForMaskedLM"}
    if objective.pair is not None and family in ("bert", "albert"):
        allowed.add(f"{family.capitalize()}ForPreTraining")
    architecture = architecture or (spec.hf_architectures[0] if spec.hf_architectures[0] in allowed
                                    else sorted(allowed)[0])
    if architecture not in allowed:
        raise ConfigError(f"architecture={architecture!r}: this {config.objective} model exports as "
                          f"{' or '.join(sorted(allowed))}")
    pretraining = architecture.endswith("ForPreTraining")
    base = to_hf_state(objective.encoder)
    _fold_task_vector(objective, base)
    if not pretraining:
        base = {k: v for k, v in base.items() if not k.startswith("pooler.")}
    state = {f"{family}.{k}": v for k, v in base.items()}
    state.update(mlm_head_to_hf_state(objective.mlm, family))
    if pretraining and objective.pair is not None:
        state.update(pair_head_to_hf_state(objective.pair, family))
    hf_config = config_to_hf(config.encoder)
    hf_config["architectures"] = [architecture]
    hf_config["tie_word_embeddings"] = True
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    write_json(out / "config.json", hf_config)
    if tokenizer is not None:
        write_hf_tokenizer(tokenizer, out, config.encoder.max_length)
    return out


def _fold_task_vector(objective: PretrainingObjective, state: dict[str, torch.Tensor]) -> None:
    """ERNIE 2.0's task embedding, exported exactly: the MLM's vector is added to every position row.

    The task vector is one constant added to every token's input embedding before the embedding
    LayerNorm, and every token reads exactly one row of the position table, so ``word + (pos + v) +
    type`` equals ``word + pos + type + v``: the exported ``*ForMaskedLM`` gives the run's MLM logits
    (the other tasks' vectors belong to heads HF has no place for and are left out with them).
    """
    from reprlab.pretrain.multitask import MultiTaskObjective

    if not isinstance(objective, MultiTaskObjective) or objective.task_vectors is None:
        return
    key = "embeddings.position_embeddings.weight"
    if key not in state:
        raise ConfigError("this ERNIE run's encoder has no learned position table to carry its task embedding; "
                          "use the run directory (reprlab pretrain fill, eval) instead of a HF export")
    vector = objective.task_vectors.weight[objective.default_task].detach()
    state[key] = (state[key] + vector.to(state[key].dtype)).contiguous()


def _to_hf_autoregressive(objective: Any, out: Path, architecture: str | None, tokenizer: Any) -> Path:
    """A causal run exports as HF ``GPT2LMHeadModel``; an xlnet run has no HF equivalent."""
    name = objective.config.objective
    if not hasattr(objective, "lm"):
        raise ConfigError(f"a {name} run cannot be exported to HF: HF XLNet uses Transformer-XL relative "
                          "positions, reprlab's two-stream model absolute ones; export the encoder's weights "
                          "with safetensors or use the run directory")
    if architecture not in (None, "GPT2LMHeadModel"):
        raise ConfigError(f"architecture={architecture!r}: a causal run exports as GPT2LMHeadModel")
    from reprlab.pretrain.shards import special_token_ids

    eot = None
    if tokenizer is not None:
        ids = special_token_ids(tokenizer)
        eot = ids.get("eos") if ids.get("eos") is not None else ids.get("sep")
    objective.lm.to_hf(out, bos_id=eot, eos_id=eot)
    if tokenizer is not None:
        write_hf_tokenizer(tokenizer, out)
    return out
