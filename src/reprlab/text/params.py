"""``parameter_count(config)``: the encoder's parameters, term by term, by formula.

For V vocabulary, E embedding size, H hidden size, I feed-forward size, P positions, S segments,
L layers:

    embeddings   V E + S E + P E + 2E  (+ E H + H when E != H)
    per layer    4 (H^2 + H)           Q, K, V, O projections
               + 2H                    attention LayerNorm
               + (H I + I) + (I H + H) feed-forward
               + 2H                    feed-forward LayerNorm
    pooler       H^2 + H

bert-base (V=30522, H=E=768, I=3072, P=512, S=2, L=12): 23,837,184 + 12 x 7,087,872 + 590,592
= 109,482,240, equal to HF ``BertModel`` with its pooler. ALBERT's sharing divides the layer terms:
with ``sharing="all"`` one layer's parameters serve all L.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reprlab.text.config import EncoderConfig


@dataclass
class ParameterRow:
    """One component: ``per_copy`` parameters held ``copies`` times (copies = distinct tensors)."""

    name: str
    per_copy: int
    copies: int = 1
    formula: str = ""

    @property
    def total(self) -> int:
        return self.per_copy * self.copies


@dataclass
class ParameterCount:
    """The breakdown returned by :func:`parameter_count`."""

    config: EncoderConfig
    rows: list[ParameterRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rows)

    def as_dict(self) -> dict[str, int]:
        """Component name -> parameters (all copies), plus ``total``."""
        return {**{r.name: r.total for r in self.rows}, "total": self.total}

    def table(self) -> str:
        """A plain-text table: component, formula, per copy, copies, total."""
        lines = [f"{'component':<26} {'formula':<16} {'per copy':>13} {'copies':>6} {'total':>13}"]
        lines.append("-" * len(lines[0]))
        for r in self.rows:
            lines.append(f"{r.name:<26} {r.formula:<16} {r.per_copy:>13,} {r.copies:>6} {r.total:>13,}")
        lines.append("-" * len(lines[0]))
        lines.append(f"{'total':<26} {'':<16} {'':>13} {'':>6} {self.total:>13,}")
        return "\n".join(lines)


def parameter_count(config: EncoderConfig) -> ParameterCount:
    """Count the parameters of ``Encoder(config)`` by formula, component by component.

    Equals ``sum(p.numel() for p in Encoder(config).parameters())`` for every valid config (shared
    ALBERT layers count once; the sinusoidal position table is a buffer, not a parameter).

    Parameters
    ----------
    config : EncoderConfig

    Returns
    -------
    ParameterCount
        ``.rows`` (name, per_copy, copies, formula), ``.total``, ``.table()``, ``.as_dict()``.

    Examples
    --------
    >>> parameter_count(EncoderConfig.preset("bert-base")).total
    109482240
    """
    c = config
    v, e, h, i = c.vocab_size, c.embedding_dim, c.hidden_size, c.intermediate_size
    la, lf = c.attention_copies, c.ffn_copies
    rows = [ParameterRow("token embeddings", v * e, 1, "V*E")]
    if c.type_vocab_size:
        rows.append(ParameterRow("segment embeddings", c.type_vocab_size * e, 1, "S*E"))
    if c.positions == "learned":
        rows.append(ParameterRow("position embeddings", c.max_position * e, 1, "P*E"))
    if c.embedding_norm:
        rows.append(ParameterRow("embedding LayerNorm", 2 * e, 1, "2E"))
    if e != h:
        rows.append(ParameterRow("embedding projection E->H", e * h + h, 1, "E*H+H"))
    for name in ("query", "key", "value", "attention output"):
        rows.append(ParameterRow(f"layer {name}", h * h + h, la, "H*H+H"))
    rows.append(ParameterRow("layer attention LayerNorm", 2 * h, la, "2H"))
    rows.append(ParameterRow("layer FFN in", h * i + i, lf, "H*I+I"))
    rows.append(ParameterRow("layer FFN out", i * h + h, lf, "I*H+H"))
    rows.append(ParameterRow("layer FFN LayerNorm", 2 * h, lf, "2H"))
    if c.norm == "pre":
        rows.append(ParameterRow("final LayerNorm", 2 * h, 1, "2H"))
    if c.pooler:
        rows.append(ParameterRow("pooler", h * h + h, 1, "H*H+H"))
    return ParameterCount(config=c, rows=rows)
