"""Text generation from a causal LM: greedy, temperature, top-k and nucleus (top-p) sampling, KV cache.

Each step draws x_t ~ softmax(z_t / T) restricted to the k most probable tokens (Fan et al. 2018,
https://arxiv.org/abs/1805.04833) and/or to the smallest set whose probability reaches p (Holtzman
et al. 2019, "The Curious Case of Neural Text Degeneration", https://arxiv.org/abs/1904.09751);
temperature 0 is greedy decoding (argmax).

Batched prompts of different lengths are **left-padded** and every row gets its own positions
(0 at its first real token), so a row's tokens do not depend on the other rows. With the
:class:`~reprlab.text.kv_cache.KVCache` (default) the prompt is encoded once and each new token
costs one O(t) step; ``use_cache=False`` re-runs the whole sequence every step (the reference the
tests compare against). Prompts that do not fit are refused, not truncated: the prompt plus
``max_new_tokens`` must fit the position table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from reprlab.errors import ConfigError, DataError
from reprlab.text.config import EncoderConfig
from reprlab.text.kv_cache import KVCache

Prompt = Sequence[int] | Sequence[Sequence[int]] | torch.Tensor


@dataclass
class Generation:
    """What :func:`generate` returns.

    Attributes
    ----------
    tokens : LongTensor (B, N)
        New tokens per row; after a row's ``eos_id`` the rest is ``pad_id``.
    lengths : LongTensor (B,)
        New tokens of each row up to and including its end-of-text token.
    """

    tokens: torch.Tensor
    lengths: torch.Tensor

    def as_lists(self) -> list[list[int]]:
        """Each row's new tokens, cut after its end-of-text token."""
        return [row[:n].tolist() for row, n in zip(self.tokens, self.lengths.tolist())]


def _prompt_rows(prompt_ids: Prompt, bos_id: int | None) -> list[list[int]]:
    if isinstance(prompt_ids, torch.Tensor):
        if prompt_ids.dim() not in (1, 2):
            raise DataError(f"prompt_ids has shape {tuple(prompt_ids.shape)}; expected (T,) or (B, T)")
        rows = prompt_ids.reshape(-1, prompt_ids.shape[-1]).tolist() if prompt_ids.numel() else [[]]
    elif len(prompt_ids) and (hasattr(prompt_ids[0], "__len__") and not isinstance(prompt_ids[0], torch.Tensor)
                              or isinstance(prompt_ids[0], torch.Tensor) and prompt_ids[0].dim() == 1):
        rows = [[int(i) for i in row] for row in prompt_ids]  # type: ignore[union-attr]
    else:
        rows = [[int(i) for i in prompt_ids]]  # type: ignore[arg-type]
    if not rows:
        raise DataError("prompt_ids holds no prompts; pass one list of token ids per row")
    for r, row in enumerate(rows):
        if not row:
            if bos_id is None:
                raise DataError(f"prompt {r} is empty and no bos_id is given; start it with a token (e.g. the "
                                "end-of-text token) or pass bos_id")
            row.append(bos_id)
    return rows


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise :class:`ConfigError` for a temperature < 0, top_k < 1 or top_p outside (0, 1]."""
    if not temperature >= 0:
        raise ConfigError(f"temperature={temperature!r}: must be >= 0 (0 = greedy)")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ConfigError(f"top_k={top_k!r}: must be a positive integer or None (no limit)")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ConfigError(f"top_p={top_p!r}: must be in (0, 1] (1 = no nucleus cut)")


def next_token(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token per row from logits (B, V): greedy at temperature 0, else filtered sampling.

    Top-k keeps the k largest logits; top-p then keeps the most probable tokens until their
    cumulative probability reaches p (always at least one). Returns (B,) token ids.
    """
    if temperature == 0:
        return logits.argmax(-1)
    z = logits.float() / temperature  # (B, V)
    if top_k is not None and top_k < z.shape[-1]:
        kth = z.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        z = z.masked_fill(z < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_z, order = z.sort(-1, descending=True)  # (B, V)
        probs = sorted_z.softmax(-1)
        before = probs.cumsum(-1) - probs  # probability of the tokens ranked above each one
        drop = before >= top_p  # the first token always stays (before = 0 < p)
        z = z.scatter(-1, order, sorted_z.masked_fill(drop, float("-inf")))
    probs = z.softmax(-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (B,)


def _model_config(model: torch.nn.Module) -> EncoderConfig:
    config = getattr(model, "config", None)
    if not isinstance(config, EncoderConfig) or not config.causal:
        raise ConfigError(f"{type(model).__name__}: generation needs a causal LM whose .config is a causal "
                          "EncoderConfig (reprlab.text.CausalLM(gpt_config(...)))")
    return config


def stream(model: torch.nn.Module, prompt_ids: Prompt, max_new_tokens: int, *, temperature: float = 1.0,
           top_k: int | None = None, top_p: float | None = None, eos_id: int | None = None,
           pad_id: int | None = None, bos_id: int | None = None, generator: torch.Generator | None = None,
           use_cache: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(tokens (B,), finished (B,) bool)`` once per new position, as they are decided.

    The same arguments as :func:`generate`; iteration ends after ``max_new_tokens`` steps or when
    every row has produced ``eos_id``. Rows already finished yield ``pad_id``.
    """
    config = _model_config(model)
    check_sampling(temperature, top_k, top_p)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens={max_new_tokens!r}: must be a positive integer")
    rows = _prompt_rows(prompt_ids, bos_id)
    longest = max(len(r) for r in rows)
    if longest + max_new_tokens > config.max_length:
        what = "the prompt alone" if longest >= config.max_length else f"max_new_tokens={max_new_tokens} more"
        raise ConfigError(f"a prompt of {longest} tokens + {max_new_tokens} new tokens = {longest + max_new_tokens} "
                          f"positions, but the model has {config.max_length} (max_position); {what} does not fit: "
                          "shorten the prompt (keep its end) or lower max_new_tokens")
    for row in rows:
        bad = [i for i in row if not 0 <= i < config.vocab_size]
        if bad:
            raise DataError(f"prompt token id {bad[0]} is outside the vocabulary [0, {config.vocab_size})")
    fill = config.pad_token_id if pad_id is None else pad_id
    if not 0 <= fill < config.vocab_size:
        raise ConfigError(f"pad_id={fill} is outside the vocabulary [0, {config.vocab_size})")
    param = next(model.parameters())
    device = param.device
    b, total = len(rows), longest + max_new_tokens
    ids = torch.full((b, total), fill, dtype=torch.long, device=device)
    padded = any(len(row) < longest for row in rows)
    mask = torch.zeros((b, total), dtype=torch.long, device=device)
    for r, row in enumerate(rows):  # left padding: every prompt ends at column longest - 1
        ids[r, longest - len(row):longest] = torch.tensor(row, dtype=torch.long)
        mask[r, longest - len(row):] = 1
    positions = (mask.cumsum(1) - 1).clamp_min(0)  # (B, total): each row counts from its first token
    # Without padding the mask is all ones and the positions are 0, 1, ...: give the model neither, so each
    # step attends without a mask tensor (one query over every cached key needs none).
    step_mask = mask if padded else None
    finished = torch.zeros(b, dtype=torch.bool, device=device)
    pad_token = torch.full((b,), fill, dtype=torch.long, device=device)
    cache = KVCache.for_model(config, b, total, device=device, dtype=param.dtype) if use_cache else None
    was_training = model.training
    model.eval()
    try:
        end = longest
        for step in range(max_new_tokens):
            start = 0 if cache is None else cache.length  # without a cache: recompute everything (the reference)
            with torch.no_grad():  # per step, not around the yield: the caller's grad mode stays its own
                logits = model(ids[:, start:end], None if step_mask is None else step_mask[:, :end],
                               positions[:, start:end] if padded else None, cache=cache, last_only=True)[:, -1]
                token = next_token(logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
                if eos_id is not None:
                    token = torch.where(finished, pad_token, token)
                    finished = finished | (token == eos_id)
                ids[:, end] = token
            end += 1
            yield token, finished
            if eos_id is not None and step < max_new_tokens - 1 and bool(finished.all()):
                return
    finally:
        model.train(was_training)


def generate(model: torch.nn.Module, prompt_ids: Prompt, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, eos_id: int | None = None,
             pad_id: int | None = None, bos_id: int | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True) -> Generation:
    """Continue each prompt by up to ``max_new_tokens`` tokens.

    Parameters
    ----------
    model : CausalLM
        Anything with ``.config`` (an :class:`EncoderConfig` with ``causal=True``) and
        ``forward(input_ids, attention_mask, position_ids, cache=None, last_only=False) -> logits (B, T, V)``.
    prompt_ids : list of int, list of lists of int, or LongTensor (T,) / (B, T)
        One prompt or a batch of prompts of different lengths (left-padded internally).
    max_new_tokens : int
        Steps to run; prompt + max_new_tokens must fit ``config.max_length``.
    temperature : float
        Softmax temperature; 0 = greedy (argmax).
    top_k : int, optional
        Sample among the k most probable tokens only.
    top_p : float in (0, 1], optional
        Nucleus sampling: the smallest set of tokens whose probability reaches p.
    eos_id : int, optional
        A row stops when it produces this token; generation ends when every row has.
    pad_id : int, optional
        Left-pads shorter prompts (masked out, never attended to) and fills rows after they finish;
        default the model's ``config.pad_token_id`` (the tokenizer's pad token, set when the run was
        made; a GPT-2 directory without one gets its ``eos_token_id``, as HF's ``generate`` does).
    bos_id : int, optional
        Replaces an empty prompt (an empty prompt without it is an error).
    generator : torch.Generator, optional
        Source of the sampling randomness (same generator state -> same tokens).
    use_cache : bool
        Use the :class:`KVCache` (True) or re-run the full sequence every step.

    Returns
    -------
    Generation
        ``tokens`` (B, N) and ``lengths`` (B,).

    Raises
    ------
    ConfigError
        temperature < 0, top_k < 1, top_p outside (0, 1], max_new_tokens < 1, prompt + max_new_tokens
        longer than the position table.
    DataError
        An empty prompt without ``bos_id``, ids outside the vocabulary.

    Examples
    --------
    >>> from reprlab.text.causal_lm import CausalLM, gpt_config
    >>> model = CausalLM(gpt_config("tiny"))
    >>> out = generate(model, [[5, 6, 7], [8]], 4, temperature=0)
    >>> out.tokens.shape
    torch.Size([2, 4])
    """
    steps, done = [], None
    for token, finished in stream(model, prompt_ids, max_new_tokens, temperature=temperature, top_k=top_k,
                                  top_p=top_p, eos_id=eos_id, pad_id=pad_id, bos_id=bos_id, generator=generator,
                                  use_cache=use_cache):
        steps.append(token)
        done = finished
    tokens = torch.stack(steps, 1)  # (B, N)
    n = tokens.shape[1]
    if eos_id is None or done is None:
        lengths = torch.full((tokens.shape[0],), n, dtype=torch.long)
    else:
        hit = tokens == eos_id  # the first eos of each row ends it
        first = torch.where(hit.any(1), hit.float().argmax(1) + 1, torch.full_like(hit[:, 0], n, dtype=torch.long))
        lengths = first.long().cpu()
    return Generation(tokens=tokens.cpu(), lengths=lengths)
