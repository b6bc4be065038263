"""GPT-2 interop: write and read HF ``GPT2LMHeadModel`` directories for a :class:`CausalLM`.

GPT-2 (Radford et al. 2019) is reprlab's causal encoder with :data:`~reprlab.text.causal_lm.GPT2_SWITCHES`:
pre-norm blocks, a final LayerNorm, no embedding LayerNorm, learned positions, no segments, and an
output layer tied to the token table. Names map one to one; HF stores its projections as
``Conv1D`` with (in, out) weights, the transpose of ``nn.Linear``'s, and keeps q, k, v fused in
``c_attn`` in the same [q; k; v] order as reprlab's ``qkv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from reprlab.errors import CheckpointError, ConfigError
from reprlab.io import atomic_path, write_json
from reprlab.text.causal_lm import CausalLM
from reprlab.text.config import EncoderConfig
from reprlab.text.interop import read_checkpoint_tensors

_ACT_TO_HF = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu"}
_ACT_FROM_HF = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}


def check_gpt2(config: EncoderConfig) -> None:
    """Raise :class:`ConfigError` naming the first field GPT-2 cannot represent."""
    c = config
    for name, ok, want in (("causal", c.causal, "true"), ("norm", c.norm == "pre", "'pre'"),
                           ("embedding_norm", not c.embedding_norm, "false"),
                           ("type_vocab_size", c.type_vocab_size == 0, "0"),
                           ("positions", c.positions == "learned", "'learned'"),
                           ("sharing", c.sharing == "none", "'none'"), ("embedding_size", c.embedding_size in
                                                                        (None, c.hidden_size), "None"),
                           ("position_offset", c.position_offset == 0, "0")):
        if not ok:
            raise ConfigError(f"EncoderConfig.{name}={getattr(c, name)!r} has no GPT-2 equivalent; GPT-2 export "
                              f"needs {name}={want} (build the config with gpt_config(...))")


def config_to_gpt2(config: EncoderConfig, *, bos_id: int | None = None, eos_id: int | None = None) -> dict:
    """The HF ``config.json`` of a ``GPT2LMHeadModel`` with ``config``'s shape."""
    check_gpt2(config)
    c = config
    out = dict(model_type="gpt2", architectures=["GPT2LMHeadModel"], vocab_size=c.vocab_size,
               n_positions=c.max_position, n_embd=c.hidden_size, n_layer=c.num_layers, n_head=c.num_heads,
               n_inner=c.intermediate_size, activation_function=_ACT_TO_HF[c.activation],
               resid_pdrop=c.hidden_dropout, embd_pdrop=c.hidden_dropout, attn_pdrop=c.attention_dropout,
               layer_norm_epsilon=c.layer_norm_eps, initializer_range=c.initializer_range,
               tie_word_embeddings=True, pad_token_id=c.pad_token_id, bos_token_id=bos_id, eos_token_id=eos_id)
    return out  # bos/eos null unless given: HF's GPT2Config would otherwise assume GPT-2's 50256


def _pad_id(hf: dict) -> int:
    """GPT-2 has no pad token: like HF's ``generate``, pad with ``eos_token_id`` when ``pad_token_id`` is null."""
    for key in ("pad_token_id", "eos_token_id"):
        value = hf.get(key)
        if isinstance(value, list):  # HF allows several end-of-text ids; the first pads
            value = value[0] if value else None
        if value is not None:
            return int(value)
    return 0


def config_from_gpt2(hf: dict) -> EncoderConfig:
    """The :class:`EncoderConfig` of a HF GPT-2 ``config.json`` dict."""
    if hf.get("model_type") != "gpt2":
        raise ConfigError(f"config.json: model_type={hf.get('model_type')!r}; expected 'gpt2'")
    act = hf.get("activation_function", "gelu_new")
    if act not in _ACT_FROM_HF:
        raise ConfigError(f"config.json: activation_function={act!r}; supported: {sorted(_ACT_FROM_HF)}")
    for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"):
        if hf.get(flag):
            raise ConfigError(f"config.json: {flag}=true is not supported")
    h = hf.get("n_embd", 768)
    from reprlab.text.causal_lm import gpt_config

    return gpt_config(EncoderConfig(
        vocab_size=hf.get("vocab_size", 50257), hidden_size=h, num_layers=hf.get("n_layer", 12),
        num_heads=hf.get("n_head", 12), intermediate_size=hf.get("n_inner") or 4 * h,
        max_position=hf.get("n_positions", 1024), hidden_dropout=hf.get("resid_pdrop", 0.1),
        attention_dropout=hf.get("attn_pdrop", 0.1), initializer_range=hf.get("initializer_range", 0.02),
        pad_token_id=_pad_id(hf)), activation=_ACT_FROM_HF[act],
        layer_norm_eps=hf.get("layer_norm_epsilon", 1e-5))


def gpt2_names(config: EncoderConfig) -> list[tuple[str, str, bool]]:
    """(reprlab name, HF name, transposed) for every tensor of a GPT-2-shaped :class:`CausalLM`."""
    pairs = [("encoder.embeddings.token.weight", "transformer.wte.weight", False),
             ("encoder.embeddings.position.weight", "transformer.wpe.weight", False)]
    for j in range(config.num_layers):
        ours, hf = f"encoder.layers.{j}.", f"transformer.h.{j}."
        for a, b in (("attention.norm", "ln_1"), ("ffn.norm", "ln_2")):
            pairs += [(f"{ours}{a}.{p}", f"{hf}{b}.{p}", False) for p in ("weight", "bias")]
        for a, b in (("attention.qkv", "attn.c_attn"), ("attention.out", "attn.c_proj"), ("ffn.dense_in", "mlp.c_fc"),
                     ("ffn.dense_out", "mlp.c_proj")):
            pairs += [(f"{ours}{a}.weight", f"{hf}{b}.weight", True), (f"{ours}{a}.bias", f"{hf}{b}.bias", False)]
    pairs += [(f"encoder.final_norm.{p}", f"transformer.ln_f.{p}", False) for p in ("weight", "bias")]
    return pairs


def to_hf_gpt2(model: CausalLM, path: str | Path, *, bos_id: int | None = None, eos_id: int | None = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` that HF ``GPT2LMHeadModel.from_pretrained`` reads.

    Raises
    ------
    ConfigError
        A config GPT-2 cannot hold (named field), e.g. sinusoidal positions or an embedding LayerNorm.
    """
    check_gpt2(model.config)
    params = dict(model.named_parameters())
    state = {}
    for ours, hf, transposed in gpt2_names(model.config):
        t = params[ours].detach()
        state[hf] = (t.t() if transposed else t).contiguous().clone()
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    write_json(out / "config.json", config_to_gpt2(model.config, bos_id=bos_id, eos_id=eos_id))
    return out


def from_hf_gpt2(path: str | Path) -> CausalLM:
    """Load a HF GPT-2 directory (``config.json`` + weights) into a :class:`CausalLM`.

    Raises
    ------
    CheckpointError
        Missing files or tensors, shapes that disagree with ``config.json``.
    """
    path = Path(path)
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{path}: no config.json; expected a HF GPT-2 directory")
    config = config_from_gpt2(json.loads((path / "config.json").read_text()))
    state = read_checkpoint_tensors(path)
    state = {k if k.startswith(("transformer.", "lm_head.")) else f"transformer.{k}": v for k, v in state.items()}
    model = CausalLM(config)
    params = dict(model.named_parameters())
    missing = [hf for _, hf, _ in gpt2_names(config) if hf not in state]
    if missing:
        raise CheckpointError(f"{path}: missing GPT-2 tensors {missing[:3]}{' ...' if len(missing) > 3 else ''}")
    with torch.no_grad():
        for ours, hf, transposed in gpt2_names(config):
            value = state[hf].t() if transposed else state[hf]
            if value.shape != params[ours].shape:
                raise CheckpointError(f"{path}: tensor {hf} has shape {tuple(state[hf].shape)}; config.json "
                                      f"implies {tuple(params[ours].shape)}")
            params[ours].copy_(value)
    return model.eval()
