"""A text encoder with its tokenizer, loaded from any model directory reprlab knows.

:func:`load_text_model` accepts

* a reprlab pretraining run (``reprlab pretrain run -o RUN``: ``pretrain.json`` + ``tokenizer/``),
  read with :func:`reprlab.pretrain.load_pretrained`;
* a reprlab fine-tuned run (``reprlab finetune -o OUT``: ``task.json``), whose *encoder* is
  returned (fine-tune again, or embed with it);
* a HF BERT / RoBERTa / ALBERT directory (``config.json`` + weights + tokenizer files), through
  :func:`reprlab.text.interop.from_hf` and the reprlab tokenizer loader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reprlab.errors import CheckpointError, MissingDataError
from reprlab.text import Encoder

TASK_FILE = "task.json"
TOKENIZER_DIR = "tokenizer"


@dataclass
class TextModel:
    """An :class:`~reprlab.text.Encoder`, the tokenizer it was trained with, and where it came from."""

    encoder: Encoder
    tokenizer: Any
    source: str = ""
    kind: str = "hf"  # hf | pretrain | finetune | random

    @property
    def max_length(self) -> int:
        return self.encoder.config.max_length

    @property
    def pad_id(self) -> int:
        return self.encoder.config.pad_token_id

    def encode(self, texts: list[str] | str, *, pooling: str = "mean", normalize: bool = True,
               batch_size: int = 32, max_length: int | None = None, progress: bool = False) -> torch.Tensor:
        """Sentence embeddings (N, H); see :func:`reprlab.transfer.embeddings.encode`."""
        from reprlab.transfer.embeddings import encode

        return encode(self, texts, pooling=pooling, normalize=normalize, batch_size=batch_size,
                      max_length=max_length, progress=progress)


def _tokenizer(directory: Path) -> Any:
    from reprlab.tokenizers import load_tokenizer

    if not ((directory / "vocab.txt").is_file() or (directory / "merges.txt").is_file()):
        raise MissingDataError(f"{directory}: no tokenizer (vocab.txt or vocab.json + merges.txt); copy the "
                               "model's tokenizer files into the directory")
    return load_tokenizer(directory)


def load_text_model(spec: str | Path, *, device: str | torch.device = "cpu") -> TextModel:
    """Load a pretraining run, a fine-tuned run or a HF checkpoint directory (see the module docstring).

    Raises
    ------
    MissingDataError
        No such directory, or a model directory without a tokenizer.
    CheckpointError
        A directory that is none of the three kinds, or weights that do not load.
    """
    path = Path(spec)
    if not path.is_dir():
        raise MissingDataError(f"{path}: no such model directory; give a reprlab pretraining or fine-tuned run, "
                               "or a HF BERT/RoBERTa/ALBERT directory")
    if (path / "pretrain.json").is_file():
        from reprlab.pretrain import load_pretrained

        pre = load_pretrained(path, device=device)
        return TextModel(pre.encoder, pre.tokenizer, str(path), "pretrain")
    if (path / TASK_FILE).is_file():
        from reprlab.transfer.text_runs import load_finetuned

        run = load_finetuned(path, device=device)
        return TextModel(run.model.encoder, run.tokenizer, str(path), "finetune")
    if (path / "config.json").is_file():
        try:
            model_type = json.loads((path / "config.json").read_text()).get("model_type")
        except (json.JSONDecodeError, AttributeError):
            raise CheckpointError(f"{path / 'config.json'}: not valid JSON; is this a model directory?") from None
        if model_type is None:
            raise CheckpointError(f"{path}: config.json has no model_type; it is neither a HF checkpoint nor a "
                                  "reprlab pretraining/fine-tuned run (those hold pretrain.json or task.json)")
        tokenizer = _tokenizer(path)
        encoder = Encoder.from_hf(path, strict=False)
        if encoder.config.vocab_size < tokenizer.vocab_size:
            raise CheckpointError(f"{path}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
                                  f"{encoder.config.vocab_size}; the tokenizer files belong to another model")
        return TextModel(encoder.to(device).eval(), tokenizer, str(path), "hf")
    raise CheckpointError(f"{path}: no config.json, pretrain.json or task.json; give a reprlab run or a HF "
                          "checkpoint directory")


def random_text_model(like: TextModel, *, seed: int = 0) -> TextModel:
    """The same architecture and tokenizer as ``like`` with freshly initialised weights (training from scratch)."""
    torch.manual_seed(seed)
    device = next(like.encoder.parameters()).device
    return TextModel(Encoder(like.encoder.config).to(device), like.tokenizer, f"random init ({like.source})", "random")


__all__ = ["TextModel", "load_text_model", "random_text_model", "TASK_FILE", "TOKENIZER_DIR"]
