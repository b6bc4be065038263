"""``reprlab generate RUN "prompt"``: continue a text with a causal-LM run, streaming it as it comes.

The prompt is encoded without [CLS]/[SEP] and preceded by the end-of-text token, as every training
block starts (:func:`reprlab.pretrain.causal.causal_layout`); an empty prompt is the end-of-text
token alone. Tokens come from :func:`reprlab.text.stream` (KV cache, temperature / top-k / top-p)
and are decoded incrementally: after each token the whole continuation is decoded again and the
new suffix is emitted, held back while it ends in an incomplete UTF-8 sequence (byte-level BPE can
split a character over two tokens). Generation stops at the end-of-text token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from reprlab.errors import ConfigError
from reprlab.pretrain.causal import end_of_text_id
from reprlab.pretrain.pretrained import load_pretrained
from reprlab.pretrain.shards import special_token_ids
from reprlab.text import stream


@dataclass
class GenerateConfig:
    """``reprlab generate``: one continuation of one prompt."""

    run: str = ""  # a `reprlab pretrain run --objective causal` directory
    prompt: str = ""
    max_new_tokens: int = 100
    temperature: float = 0.8  # 0 = greedy
    top_k: int | None = None
    top_p: float | None = 0.95
    seed: int = 0  # seeds the sampling generator
    device: str = "cpu"


def generate_text(cfg: GenerateConfig) -> Iterator[str]:
    """Yield pieces of decoded text as the tokens are drawn (their concatenation is the continuation).

    Raises
    ------
    ConfigError
        The run is not a causal LM; bad sampling settings; prompt + max_new_tokens past the positions.
    """
    model = load_pretrained(cfg.run, device=cfg.device)
    lm = getattr(model.objective, "lm", None)
    if lm is None:
        raise ConfigError(f"{cfg.run}: a {model.config.objective} run cannot generate text; train one with "
                          "`reprlab pretrain run --objective causal`")
    tok = model.tokenizer
    eot = end_of_text_id(special_token_ids(tok))
    prompt = [eot] + list(tok.encode(cfg.prompt, add_special_tokens=False).ids) if cfg.prompt else [eot]
    generator = torch.Generator(device=cfg.device).manual_seed(cfg.seed)
    new: list[int] = []
    shown = ""
    head = tok.decode(prompt[1:])  # the prompt as the decoder writes it; the continuation follows it
    for token, _ in stream(lm, [prompt], cfg.max_new_tokens, temperature=cfg.temperature, top_k=cfg.top_k,
                           top_p=cfg.top_p, eos_id=eot, generator=generator):
        t = int(token[0])
        if t == eot:
            break
        new.append(t)
        text = tok.decode(prompt[1:] + new)[len(head):]
        if text.endswith("\ufffd") or not text.startswith(shown):
            continue  # an incomplete character, or a decoder that rewrote earlier text: wait for more
        yield text[len(shown):]
        shown = text
