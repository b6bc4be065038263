"""``WordPieceTokenizer``: BERT's tokenizer assembled from the pipeline parts.

``BertNormalizer`` -> ``BertPreTokenizer`` -> ``WordPiece`` -> ``[CLS] A [SEP] (B [SEP])`` ->
``WordPieceDecoder``. A saved directory holds ``vocab.txt`` and ``tokenizer_config.json``; the
JSON uses the key names of HF ``BertTokenizer`` (``do_lower_case``, ``strip_accents``,
``tokenize_chinese_chars``, ...) so HF's ``BertTokenizerFast.from_pretrained(dir)`` reads the same
directory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from reprlab.errors import ConfigError, DataError, MissingDataError
from reprlab.io import atomic_write, write_json
from reprlab.tokenizers.models import WordPiece, read_vocab
from reprlab.tokenizers.normalizers import BertNormalizer
from reprlab.tokenizers.pre_tokenizers import BertPreTokenizer
from reprlab.tokenizers.tokenizer import TemplateProcessing, Tokenizer, WordPieceDecoder

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CONFIG_FILE = "tokenizer_config.json"


class WordPieceTokenizer(Tokenizer):
    """BERT WordPiece tokenizer (Devlin et al., 2019, https://arxiv.org/abs/1810.04805).

    Parameters
    ----------
    vocab : dict
        token -> id; must contain ``unk_token``, ``cls_token`` and ``sep_token``.
    lowercase : bool
        Uncased model: lower-case (and, unless ``strip_accents`` says otherwise, strip accents).
    strip_accents : bool or None
        ``None``: follow ``lowercase``.
    handle_chinese_chars : bool
        Split CJK ideographs one per token.
    max_input_chars_per_word : int
        Longer words become ``[UNK]``.
    unk_token, cls_token, sep_token, pad_token, mask_token : str
        Special tokens (``pad``/``mask`` are optional in the vocabulary).
    cleanup : bool
        Decoder removes spaces before punctuation (HF ``cleanup=True``).
    never_split : sequence of str
        Extra vocabulary tokens that are matched literally in the raw text and never split.

    Examples
    --------
    >>> tok = WordPieceTokenizer.from_vocab("vocab.txt", lowercase=True)  # doctest: +SKIP
    >>> tok.encode("Unaffable!").tokens  # doctest: +SKIP
    ['[CLS]', 'una', '##ffa', '##ble', '!', '[SEP]']
    """

    def __init__(self, vocab: dict[str, int], *, lowercase: bool = True, strip_accents: bool | None = None,
                 handle_chinese_chars: bool = True, max_input_chars_per_word: int = 100,
                 unk_token: str = "[UNK]", cls_token: str = "[CLS]", sep_token: str = "[SEP]",
                 pad_token: str = "[PAD]", mask_token: str = "[MASK]", cleanup: bool = False,
                 never_split: Sequence[str] = ()):
        missing = [t for t in (unk_token, cls_token, sep_token) if t not in vocab]
        if missing:
            raise DataError(f"the vocabulary lacks {', '.join(missing)}; a BERT vocab.txt needs "
                            "[UNK], [CLS] and [SEP] lines")
        self.merge_counts: list[int] | None = None  # set by train_wordpiece: pair count of each merge
        self.parameters = dict(lowercase=lowercase, strip_accents=strip_accents,
                               handle_chinese_chars=handle_chinese_chars,
                               max_input_chars_per_word=max_input_chars_per_word, unk_token=unk_token,
                               cls_token=cls_token, sep_token=sep_token, pad_token=pad_token,
                               mask_token=mask_token, cleanup=cleanup, never_split=list(never_split))
        super().__init__(
            WordPiece(vocab, unk_token=unk_token, max_input_chars_per_word=max_input_chars_per_word),
            normalizer=BertNormalizer(lowercase=lowercase, strip_accents=strip_accents,
                                      handle_chinese_chars=handle_chinese_chars),
            pre_tokenizer=BertPreTokenizer(),
            post_processor=TemplateProcessing(cls=(cls_token, vocab[cls_token]), sep=(sep_token, vocab[sep_token])),
            decoder=WordPieceDecoder(cleanup=cleanup),
            special_tokens=(pad_token, unk_token, cls_token, sep_token, mask_token),
            never_split=never_split, pad_token=pad_token)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
        return f"WordPieceTokenizer(vocab_size={self.vocab_size}, {args})"

    @classmethod
    def from_vocab(cls, path: str | Path, lowercase: bool = True, **kwargs) -> WordPieceTokenizer:
        """Read a BERT ``vocab.txt`` (see :func:`~reprlab.tokenizers.models.read_vocab` for errors)."""
        specials = tuple(kwargs.get(k, d) for k, d in (("unk_token", "[UNK]"), ("cls_token", "[CLS]"),
                                                      ("sep_token", "[SEP]")))
        return cls(read_vocab(path, required=specials), lowercase=lowercase, **kwargs)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> WordPieceTokenizer:
        """Load a directory written by :meth:`save_pretrained` (or a BERT checkpoint directory)."""
        d = Path(directory)
        if not (d / "vocab.txt").is_file():
            raise MissingDataError(f"{d}: no vocab.txt; pass a directory written by save_pretrained "
                                   "or by `reprlab tokenizer train --kind wordpiece`")
        cfg: dict = {}
        if (d / CONFIG_FILE).is_file():
            try:
                cfg = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise DataError(f"{d / CONFIG_FILE}: invalid JSON ({e.msg}); fix or delete the file") from None
        kind = cfg.get("reprlab_kind", "wordpiece")
        if kind != "wordpiece":
            raise ConfigError(f"{d} holds a {kind!r} tokenizer; load it with load_tokenizer()")
        kwargs = dict(lowercase=bool(cfg.get("do_lower_case", True)), strip_accents=cfg.get("strip_accents"),
                      handle_chinese_chars=bool(cfg.get("tokenize_chinese_chars", True)),
                      max_input_chars_per_word=int(cfg.get("max_input_chars_per_word", 100)),
                      cleanup=bool(cfg.get("clean_up_tokenization_spaces", False)),
                      never_split=list(cfg.get("never_split") or ()))
        for key in ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token"):
            if isinstance(cfg.get(key), str):
                kwargs[key] = cfg[key]
        return cls.from_vocab(d / "vocab.txt", **kwargs)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``vocab.txt`` (ids = line numbers) and ``tokenizer_config.json`` atomically."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        write_vocab(d / "vocab.txt", self.vocab)
        p = self.parameters
        write_json(d / CONFIG_FILE, {
            "reprlab_kind": "wordpiece", "tokenizer_class": "BertTokenizer",
            "do_lower_case": p["lowercase"], "strip_accents": p["strip_accents"],
            "tokenize_chinese_chars": p["handle_chinese_chars"],
            "max_input_chars_per_word": p["max_input_chars_per_word"],
            "unk_token": p["unk_token"], "cls_token": p["cls_token"], "sep_token": p["sep_token"],
            "pad_token": p["pad_token"], "mask_token": p["mask_token"], "never_split": p["never_split"],
            "clean_up_tokenization_spaces": p["cleanup"], "model_max_length": 512})
        return d


def write_vocab(path: Path, vocab: dict[str, int] | Sequence[str]) -> None:
    """Write tokens one per line in id order (``vocab`` ids must be 0..n-1)."""
    tokens = list(vocab) if not isinstance(vocab, dict) else [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    if isinstance(vocab, dict) and [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise DataError("vocabulary ids are not 0..n-1; cannot write a line-numbered vocab.txt")
    with atomic_write(path) as f:
        f.write("".join(t + "\n" for t in tokens))
