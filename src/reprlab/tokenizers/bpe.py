"""``BPETokenizer``: apply learned BPE merges, classic (``</w>`` end-of-word symbol) or byte-level.

* classic (Sennrich et al., 2016, https://arxiv.org/abs/1508.07909): whitespace-split words, each
  spelled as characters followed by the end-of-word symbol ``"</w>"``; decoding joins the pieces
  and turns ``"</w>"`` back into a space.
* byte-level (GPT-2, Radford et al., 2019; RoBERTa): GPT-2's regular expression splits the text,
  each UTF-8 byte is one base symbol, so no text is ever unknown; decoding maps the byte symbols
  back to bytes.

Special tokens (RoBERTa's ``<s> <pad> </s> <unk> <mask>``, :data:`ROBERTA_SPECIAL_TOKENS`) are
matched literally in the raw text; when ``<s>`` and ``</s>`` are in the vocabulary, ``encode``
wraps texts as RoBERTa does: ``<s> A </s>`` and ``<s> A </s></s> B </s>``. Classic BPE turns a
character outside its alphabet into ``<unk>``.

A saved directory holds ``vocab.json`` and ``merges.txt`` in the layout of HF's BPE models plus
``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json``
(:mod:`.hf_files`): ``tokenizers.Tokenizer.from_file`` and ``transformers.AutoTokenizer`` load it
and give the same ids. HF's BPE model cannot hold a free-standing end-of-word symbol (it can only
glue a suffix to a word's last character), so ``tokenizer.json`` of a classic BPE writes ``</w>``
as one reserved character, a Unicode noncharacter absent from the vocabulary (:func:`eow_marker`),
that a normalizer inserts after every word; HF's tokens then read ``low\ufdd0`` for ``low</w>``
while the ids, and the decoded text, are the same.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reprlab.errors import ConfigError, DataError, MissingDataError
from reprlab.io import atomic_write
from reprlab.tokenizers.hf_files import CONFIG_FILE, added_tokens, ordered_vocab, tokenizer_json
from reprlab.tokenizers.models import BPE
from reprlab.tokenizers.pre_tokenizers import ByteLevel, WhitespaceSplit, byte_decode
from reprlab.tokenizers.tokenizer import TemplateProcessing, Tokenizer
from reprlab.tokenizers.unicode import WHITESPACE_RANGES, onig_class

log = logging.getLogger(__name__)

ROBERTA_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
# The parameters a saved directory records (tokenizer_config.json "reprlab_parameters").
PARAMETERS = ("byte_level", "end_of_word", "add_prefix_space", "unk_token", "special_tokens", "cls_token",
              "sep_token", "pad_token", "mask_token")


class _BPEDecoder:
    """Byte-level: bytes back to text. Classic: the end-of-word symbol becomes a space, except in
    the last token (HF's ``BPEDecoder``)."""

    def __init__(self, end_of_word: str | None, byte_level: bool):
        self.end_of_word, self.byte_level = end_of_word, byte_level

    def decode(self, tokens: Sequence[str]) -> str:
        if self.byte_level:
            return byte_decode("".join(tokens))
        if not self.end_of_word or not tokens:
            return "".join(tokens)
        eow = self.end_of_word
        return "".join(t.replace(eow, " ") for t in tokens[:-1]) + tokens[-1].replace(eow, "")


class BPETokenizer(Tokenizer):
    """Byte-pair-encoding tokenizer.

    Parameters
    ----------
    vocab : dict
        token -> id.
    merges : list of (str, str)
        Learned merges, highest priority first.
    byte_level : bool
        GPT-2 byte-level pre-tokenization and decoding (no end-of-word symbol).
    end_of_word : str
        End-of-word symbol for classic BPE.
    add_prefix_space : bool
        Byte-level only: treat the first word like the others (RoBERTa's option).
    unk_token : str or None
        Emitted for a character outside the vocabulary (classic BPE; byte-level covers every
        byte). If it is not in the vocabulary, such characters are dropped, with a warning when a
        classic tokenizer is built.
    special_tokens : sequence of str
        Tokens matched literally in raw text and skipped by ``decode``.
    cls_token, sep_token : str
        With both among ``special_tokens`` (and in the vocabulary), texts are wrapped as RoBERTa
        does (``<s> A </s>``).
    pad_token, mask_token : str
        Padding (``encode_batch(padding=...)``) and masking tokens, if in the vocabulary.
    merge_counts : list of int, optional
        The pair count of each merge when it was learned (set by the trainer).
    """

    def __init__(self, vocab: dict[str, int], merges: Sequence[tuple[str, str]], *, byte_level: bool = False,
                 end_of_word: str = "</w>", add_prefix_space: bool = False, unk_token: str | None = "<unk>",
                 special_tokens: Sequence[str] = (), cls_token: str = "<s>", sep_token: str = "</s>",
                 pad_token: str = "<pad>", mask_token: str = "<mask>", merge_counts: Sequence[int] | None = None):
        eow = None if byte_level else end_of_word
        self.merges: list[tuple[str, str]] = [(a, b) for a, b in merges]
        self.merge_counts = list(merge_counts) if merge_counts is not None else None
        self.byte_level = byte_level
        self.parameters: dict[str, Any] = dict(
            byte_level=byte_level, end_of_word=end_of_word, add_prefix_space=add_prefix_space, unk_token=unk_token,
            special_tokens=list(special_tokens), cls_token=cls_token, sep_token=sep_token, pad_token=pad_token,
            mask_token=mask_token)
        if not byte_level and unk_token not in vocab:
            log.warning("classic BPE without %r in its vocabulary: characters outside the alphabet are dropped",
                        unk_token)
        wrap = all(t in special_tokens and t in vocab for t in (cls_token, sep_token))
        template = (TemplateProcessing.roberta((cls_token, vocab[cls_token]), (sep_token, vocab[sep_token]))
                    if wrap else TemplateProcessing())
        specials = list(dict.fromkeys([*special_tokens, *(t for t in (unk_token, cls_token, sep_token, pad_token,
                                                                     mask_token) if t is not None and t in vocab)]))
        super().__init__(BPE(vocab, self.merges, end_of_word=eow, unk_token=unk_token),
                         pre_tokenizer=ByteLevel(add_prefix_space) if byte_level else WhitespaceSplit(),
                         post_processor=template, decoder=_BPEDecoder(eow, byte_level), special_tokens=specials,
                         pad_token=pad_token)

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, {self.parameters})"

    @property
    def merges_with_counts(self) -> list[tuple[str, str, int | None]]:
        """``(left, right, count)`` per merge in learned order (count ``None`` if not trained here)."""
        counts: Sequence[int | None] = self.merge_counts or [None] * len(self.merges)
        return [(a, b, c) for (a, b), c in zip(self.merges, counts)]

    def save_vocabulary(self, directory: Path) -> None:
        """Write ``vocab.json`` and ``merges.txt`` (HF's BPE files) atomically."""
        with atomic_write(directory / "vocab.json") as f:
            json.dump(self.vocab, f, ensure_ascii=False)
        with atomic_write(directory / "merges.txt") as f:
            f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in self.merges))

    def hf_config(self) -> dict:
        """``tokenizer_config.json``: transformers' keys plus reprlab's parameters and merge counts."""
        p = self.parameters
        config: dict[str, Any] = {"reprlab_kind": "bpe", "reprlab_parameters": p, "merge_counts": self.merge_counts,
                  "tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}
        for key in ("unk_token", "pad_token", "mask_token", "cls_token", "sep_token"):
            if p[key] is not None and p[key] in self.vocab:
                config[key] = p[key]
        if "cls_token" in config and "sep_token" in config:
            config["bos_token"], config["eos_token"] = config["cls_token"], config["sep_token"]
        return config

    def to_hf_json(self) -> dict:
        """This tokenizer as HF ``tokenizers``' ``tokenizer.json`` object (see the module docstring)."""
        p = self.parameters
        model = {"type": "BPE", "dropout": None, "unk_token": p["unk_token"] if p["unk_token"] in self.vocab else None,
                 "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
                 "byte_fallback": False, "ignore_merges": False}
        added = added_tokens(self.vocab, self.special_tokens)
        if self.byte_level:
            flags = {"add_prefix_space": p["add_prefix_space"], "trim_offsets": False, "use_regex": True}
            merges = [list(m) for m in self.merges]
            return tokenizer_json({**model, "vocab": ordered_vocab(self.vocab), "merges": merges},
                                  pre_tokenizer={"type": "ByteLevel", **flags},
                                  post_processor=self.post_processor.to_hf() or {"type": "ByteLevel", **flags},
                                  decoder={"type": "ByteLevel", **flags}, added=added)
        eow = p["end_of_word"]
        marker, stand_in = eow_marker(self.vocab)

        def spell(token: str) -> str:
            return token[:-len(eow)] + marker if token.endswith(eow) else token

        vocab = {spell(t): i for t, i in ordered_vocab(self.vocab).items()}
        if len(vocab) != len(self.vocab):
            raise ConfigError(f"two tokens differ only in a trailing {eow!r}; HF cannot tell them apart")
        # Whitespace as HF's WhitespaceSplit (char::is_whitespace); a word end is a position after a
        # non-space character and before a space or the end. An input marker becomes an unknown stand-in.
        ws = onig_class(WHITESPACE_RANGES)
        normalizer = {"type": "Sequence", "normalizers": [
            {"type": "Replace", "pattern": {"String": marker}, "content": stand_in},
            {"type": "Replace", "pattern": {"Regex": f"(?<=[^{ws}])(?![^{ws}])"}, "content": marker}]}
        return tokenizer_json({**model, "vocab": vocab, "merges": [[spell(a), spell(b)] for a, b in self.merges]},
                              normalizer=normalizer, pre_tokenizer={"type": "WhitespaceSplit"},
                              post_processor=self.post_processor.to_hf(),
                              decoder={"type": "BPEDecoder", "suffix": marker}, added=added)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> BPETokenizer:
        """Load a directory written by :meth:`save_pretrained`."""
        d = Path(directory)
        for name in ("vocab.json", "merges.txt"):
            if not (d / name).is_file():
                raise MissingDataError(f"{d}: no {name}; pass a directory written by "
                                       "`reprlab tokenizer train --kind bpe`")
        try:
            vocab = json.loads((d / "vocab.json").read_text(encoding="utf-8"))
            cfg = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8")) if (d / CONFIG_FILE).is_file() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{d}: unreadable vocab.json/{CONFIG_FILE} ({e}); re-train or fix the file") from None
        merges = []
        for lineno, line in enumerate((d / "merges.txt").read_text(encoding="utf-8").splitlines(), 1):
            if not line or line.startswith("#version"):
                continue
            parts = line.split(" ")
            if len(parts) != 2:
                raise DataError(f"{d / 'merges.txt'}:{lineno}: expected 'left right', got {line!r}")
            merges.append((parts[0], parts[1]))
        # reprlab_parameters since HF files were added; before, the parameters sat at the top level
        params = cfg.get("reprlab_parameters") or {k: cfg[k] for k in PARAMETERS if k in cfg and k != "unk_token"}
        if "reprlab_parameters" not in cfg and "unk_token" in cfg:
            params["unk_token"] = cfg["unk_token"]
        params = {k: v for k, v in params.items() if k in PARAMETERS}
        return cls(vocab, merges, merge_counts=cfg.get("merge_counts"), **params)


def eow_marker(vocab: dict[str, int]) -> tuple[str, str]:
    """Two noncharacters (U+FDD0-U+FDEF, reserved for internal use) that no token contains.

    The first stands for the end-of-word symbol in ``tokenizer.json``; the second replaces the
    first wherever the input holds it, so that it stays an unknown character.
    """
    used = {ch for token in vocab for ch in token}
    free = [chr(c) for c in range(0xFDD0, 0xFDF0) if chr(c) not in used]
    if len(free) < 2:
        raise ConfigError("the vocabulary uses the noncharacters U+FDD0-U+FDEF; cannot write tokenizer.json")
    return free[0], free[1]
