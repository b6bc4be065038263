"""``EncoderConfig``: one dataclass for the BERT / RoBERTa / ALBERT family, plus the named sizes.

The three models differ only in a handful of fields, so they are one ``Encoder`` with switches:

- BERT (Devlin et al. 2018, https://arxiv.org/abs/1810.04805): learned positions, two segments,
  post-norm blocks, a pooler.
- RoBERTa (Liu et al. 2019, https://arxiv.org/abs/1907.11692): the BERT architecture with one
  segment and position ids that start after the padding id (``position_offset = pad_token_id + 1``).
- ALBERT (Lan et al. 2019, https://arxiv.org/abs/1909.11942): factorized embeddings (``embedding_size``
  E < H, then an E -> H projection) and cross-layer parameter sharing (``sharing``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from reprlab.config import check_choices
from reprlab.errors import ConfigError

Activation = Literal["gelu", "gelu_tanh", "relu"]
Sharing = Literal["none", "all", "attention", "ffn"]
Positions = Literal["learned", "sinusoidal"]
Norm = Literal["post", "pre"]
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
SHARING: tuple[str, ...] = get_args(Sharing)
POSITIONS: tuple[str, ...] = get_args(Positions)
NORMS: tuple[str, ...] = get_args(Norm)


@dataclass
class EncoderConfig:
    """Shape and switches of a Transformer encoder (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762).

    Defaults are bert-base (uncased). See :meth:`preset` for the named sizes.
    """

    vocab_size: int = 30522           # WordPiece vocabulary of bert-base-uncased
    hidden_size: int = 768            # H, the width of every block
    num_layers: int = 12              # L, Transformer blocks
    num_heads: int = 12               # A; head size is H / A (64 for every BERT size)
    intermediate_size: int = 3072     # feed-forward width, 4H in BERT
    activation: Activation = "gelu"   # gelu (exact, erf) | gelu_tanh (ALBERT's "gelu_new") | relu
    max_position: int = 512           # rows of the position table (RoBERTa: 514 = 512 + offset 2)
    type_vocab_size: int = 2          # segments A/B; 0 = no segment embedding (RoBERTa checkpoints use 1)
    embedding_size: int | None = None  # E; None = H. E < H is ALBERT's factorized embedding + E->H projection
    sharing: Sharing = "none"         # ALBERT cross-layer sharing: none | all | attention | ffn
    positions: Positions = "learned"  # learned table (BERT) | sinusoidal (fixed, no parameters)
    position_offset: int = 0          # first position id; RoBERTa uses pad_token_id + 1 and skips padding
    pad_token_id: int = 0             # [PAD] in the BERT vocabulary, <pad>=1 in RoBERTa's
    hidden_dropout: float = 0.1       # dropout on embeddings and on every sub-layer output
    attention_dropout: float = 0.1    # dropout on attention probabilities
    layer_norm_eps: float = 1e-12     # BERT's epsilon (RoBERTa 1e-5)
    norm: Norm = "post"               # post: LN(x + f(x)) as in BERT | pre: x + f(LN(x)) plus a final LN
    causal: bool = False              # True: query t attends to keys <= t only (GPT-style language model)
    embedding_norm: bool = True       # LayerNorm after the summed embeddings (BERT); GPT-2 has none
    initializer_range: float = 0.02   # std s of the N(0, s^2) weight init (biases 0, LayerNorm 1/0)
    pooler: bool = True               # [CLS] -> dense -> tanh, as HF BertModel(add_pooling_layer=True)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first inconsistent field and the fix."""
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
                     "max_position"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"EncoderConfig.{name}={value!r}: must be a positive integer")
        for name in ("type_vocab_size", "position_offset", "pad_token_id"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"EncoderConfig.{name}={value!r}: must be a non-negative integer")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"EncoderConfig.hidden_size={self.hidden_size} is not divisible by num_heads={self.num_heads}; "
                f"choose num_heads among the divisors of {self.hidden_size} (BERT uses head size 64)")
        if self.embedding_size is not None:
            e = self.embedding_size
            if not isinstance(e, int) or isinstance(e, bool) or e <= 0:
                raise ConfigError(f"EncoderConfig.embedding_size={e!r}: must be a positive integer or None (= H)")
            if e > self.hidden_size:
                raise ConfigError(
                    f"EncoderConfig.embedding_size={e} > hidden_size={self.hidden_size}: the factorized "
                    "embedding (ALBERT) projects a smaller E up to H; use embedding_size <= hidden_size or None")
        check_choices(self, "EncoderConfig.")
        for name in ("causal", "embedding_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"EncoderConfig.{name}={getattr(self, name)!r}: must be true or false")
        for name in ("hidden_dropout", "attention_dropout"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise ConfigError(f"EncoderConfig.{name}={p!r}: a dropout rate must be in [0, 1)")
        if not self.layer_norm_eps > 0:
            raise ConfigError(f"EncoderConfig.layer_norm_eps={self.layer_norm_eps!r}: must be > 0")
        if self.initializer_range < 0:
            raise ConfigError(f"EncoderConfig.initializer_range={self.initializer_range!r}: must be >= 0")
        if self.position_offset >= self.max_position:
            raise ConfigError(f"EncoderConfig.position_offset={self.position_offset} leaves no positions in "
                              f"max_position={self.max_position}; raise max_position")
        if self.positions == "sinusoidal" and self.embedding_dim % 2:
            raise ConfigError(f"EncoderConfig: sinusoidal positions need an even embedding width, got "
                              f"{self.embedding_dim}; use an even hidden_size/embedding_size")
        if self.pad_token_id >= self.vocab_size:
            raise ConfigError(f"EncoderConfig.pad_token_id={self.pad_token_id} >= vocab_size={self.vocab_size}")

    # ------------------------------------------------------------------ derived sizes
    @property
    def embedding_dim(self) -> int:
        """E: width of the embedding tables (H unless factorized)."""
        return self.hidden_size if self.embedding_size is None else self.embedding_size

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def max_length(self) -> int:
        """Longest sequence the position table can address (max_position - position_offset)."""
        return self.max_position - self.position_offset

    @property
    def attention_copies(self) -> int:
        """Distinct attention sub-layers: 1 when shared across layers, else num_layers."""
        return 1 if self.sharing in ("all", "attention") else self.num_layers

    @property
    def ffn_copies(self) -> int:
        """Distinct feed-forward sub-layers: 1 when shared across layers, else num_layers."""
        return 1 if self.sharing in ("all", "ffn") else self.num_layers

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EncoderConfig:
        """Build from a plain dict; unknown keys are an error naming the key and the valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"EncoderConfig: unknown field(s) {unknown}; valid fields are {sorted(names)}")
        return cls(**values)

    def replace(self, **changes: Any) -> EncoderConfig:
        """A copy with some fields changed (validated again)."""
        return self.from_dict({**self.to_dict(), **changes})

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> EncoderConfig:
        """A named size from :data:`PRESETS`, optionally with fields overridden.

        >>> EncoderConfig.preset("bert-small").hidden_size
        512
        """
        if name not in PRESETS:
            raise ConfigError(f"unknown encoder preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})


def _bert(layers: int, hidden: int) -> dict[str, Any]:
    """BERT sizes with head size 64 and a 4H feed-forward, as in Turc et al. (2019)."""
    return dict(num_layers=layers, hidden_size=hidden, num_heads=max(1, hidden // 64),
                intermediate_size=4 * hidden)


_ROBERTA = dict(vocab_size=50265, type_vocab_size=1, max_position=514, position_offset=2, pad_token_id=1,
                layer_norm_eps=1e-5)
_ALBERT = dict(vocab_size=30000, embedding_size=128, sharing="all", activation="gelu_tanh", hidden_dropout=0.0,
               attention_dropout=0.0)

#: Named sizes. BERT tiny..medium are the compact models of Turc et al., "Well-Read Students Learn
#: Better" (2019, https://arxiv.org/abs/1908.08962); base/large from Devlin et al. (2018); RoBERTa from
#: Liu et al. (2019); ALBERT from Lan et al. (2019, Table 1). ``tiny`` is a test size.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(vocab_size=1000, hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128,
                 max_position=128),
    "bert-tiny": _bert(2, 128),
    "bert-mini": _bert(4, 256),
    "bert-small": _bert(4, 512),
    "bert-medium": _bert(8, 512),
    "bert-base": _bert(12, 768),
    "bert-large": _bert(24, 1024),
    "roberta-base": {**_bert(12, 768), **_ROBERTA},
    "roberta-large": {**_bert(24, 1024), **_ROBERTA},
    "albert-base": {**_bert(12, 768), **_ALBERT},
    "albert-large": {**_bert(24, 1024), **_ALBERT},
    "albert-xlarge": {**_bert(24, 2048), **_ALBERT},
    "albert-xxlarge": {**_ALBERT, "num_layers": 12, "hidden_size": 4096, "num_heads": 64,
                       "intermediate_size": 16384},
}
