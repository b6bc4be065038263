"""Information flows between the positions of a pretraining batch exactly where it should.

The masked-position logits the objectives are trained on must depend on the other tokens of their
own row (both segments of an NSP pair; across a FULL-SENTENCES document separator, since RoBERTa
attends across documents), and on nothing else: not on other rows, not on what sits under padding.
A model that learns only unigram frequency and copying would look the same from outside as one
whose context is cut off, so this pins the wiring down.
"""

from __future__ import annotations

from itertools import islice

import pytest
import torch
import torch.nn.functional as F

from reprlab.errors import ConfigError
from reprlab.pretrain.batches import PretrainBatch, collate
from reprlab.pretrain.instances import InstanceConfig
from reprlab.pretrain.masking import IGNORE_INDEX
from reprlab.pretrain.objectives import PretrainModelConfig, get_objective
from reprlab.pretrain.pretrained import load_pretrained
from reprlab.pretrain.runs import PretrainRunConfig, encoder_config, pretraining_data, run_pretrain
from reprlab.pretrain.shards import ShardSet


def objective_and_batch(sample_shards, name: str, rows: int = 6):
    shards = ShardSet(sample_shards, "train")
    spec = get_objective(name)
    enc = encoder_config(spec, "tiny", {"hidden_dropout": 0.0, "attention_dropout": 0.0}, shards)
    layout = spec.layout(shards.special_ids)
    data, _ = pretraining_data(shards, spec.packing, InstanceConfig(max_length=64), seed=0, batch_size=rows,
                               layout=layout)
    special = shards.special_ids
    torch.manual_seed(0)
    model = spec.model_class(PretrainModelConfig(
        encoder=enc, objective=name, sentence_task=spec.sentence_task, mask_token_id=int(special["mask"]),
        special_ids=sorted(int(i) for i in special.values() if i is not None))).eval()
    return model, data, layout


def masked_logits(model, batch: PretrainBatch, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """What the objective's forward computes for the corrupted ``ids``: (N, V) logits at ``positions``."""
    types = batch.token_type_ids if model.config.encoder.type_vocab_size > 1 else None
    with torch.no_grad():
        out = model.encoder(ids, batch.attention_mask, types)
        return model.mlm(out.last_hidden_state, positions)


def changed(ids: torch.Tensor, row: int, col: int, vocab: int) -> torch.Tensor:
    out = ids.clone()
    out[row, col] = 5 + (int(out[row, col]) - 5 + 17) % (vocab - 5)  # another ordinary piece
    return out


def row_of(positions: torch.Tensor, row: int) -> torch.Tensor:
    """Which of the N masked rows of the logits belong to batch row ``row``."""
    return positions.nonzero()[:, 0] == row


def test_masked_logits_see_their_own_row_and_nothing_else(sample_shards):
    model, data, layout = objective_and_batch(sample_shards, "bert")
    items = list(islice((x for x in map(data.item, range(len(data))) if x["token_type_ids"].max() == 1), 5))
    short = {**items[0], **{k: items[0][k][:20] for k in ("input_ids", "token_type_ids", "special", "word_start")}}
    batch = collate(items + [short], layout.pad)  # five pairs and a row of padding after 20 tokens
    ids, labels = model.mask(batch)
    positions = labels != IGNORE_INDEX
    base = masked_logits(model, batch, ids, positions)
    # the logits are the objective's: its MLM loss is their cross-entropy
    ce = F.cross_entropy(base, labels[positions])
    assert float(model(batch).metrics["mlm_loss"]) == pytest.approx(float(ce), rel=1e-5)
    vocab = model.config.encoder.vocab_size
    for row in range(5):
        in_a = torch.nonzero(positions[row] & (batch.token_type_ids[row] == 0)).squeeze(1)
        free_b = torch.nonzero(~positions[row] & ~batch.special_tokens_mask[row] & (batch.token_type_ids[row] == 1))
        assert len(in_a) and len(free_b)
        moved = masked_logits(model, batch, changed(ids, row, int(free_b[-1]), vocab), positions)
        mine = row_of(positions, row)
        # a piece of segment B moves the predictions of every masked piece of segment A ...
        assert (moved[mine] - base[mine]).abs().amax(-1).min() > 1e-4
        # ... and of no other row
        assert torch.equal(moved[~mine], base[~mine])
    # what sits under padding is invisible: any id there gives the same logits everywhere
    pad_row = len(items)
    padded = ids.clone()
    padded[pad_row, batch.attention_mask[pad_row] == 0] = 7
    assert float((masked_logits(model, batch, padded, positions) - base).abs().max()) < 1e-6


def test_full_sentences_attend_across_the_document_separator(sample_shards):
    model, data, layout = objective_and_batch(sample_shards, "roberta")
    sep = layout.doc_sep if layout.doc_sep is not None else layout.sep
    # rows holding a document separator inside the text (not the final [SEP])
    rows = list(islice((x for x in map(data.item, range(len(data))) if (x["input_ids"][1:-1] == sep).any()), 4))
    assert rows, "the sample has documents shorter than an instance, so some rows cross one"
    batch = collate(rows, layout.pad)
    ids, labels = model.mask(batch)
    positions = labels != IGNORE_INDEX
    base = masked_logits(model, batch, ids, positions)
    vocab = model.config.encoder.vocab_size
    seen = 0
    for row in range(len(rows)):
        cut = int(torch.nonzero(batch.input_ids[row, 1:-1] == sep)[0]) + 1
        before = torch.nonzero(~positions[row, :cut] & ~batch.special_tokens_mask[row, :cut]).squeeze(1)
        after = torch.zeros_like(positions)
        after[row, cut + 1:] = positions[row, cut + 1:]
        if not len(before) or not after.any():
            continue
        moved = masked_logits(model, batch, changed(ids, row, int(before[0]), vocab), positions)
        picked = after[positions]  # the masked pieces of the next document in this row
        assert (moved[picked] - base[picked]).abs().amax(-1).min() > 1e-4
        seen += 1
    assert seen


def test_position_ids_count_real_tokens_only(sample_shards):
    model, data, layout = objective_and_batch(sample_shards, "roberta")
    cut = {k: data[1][k][:20] for k in ("input_ids", "token_type_ids", "special", "word_start")}
    short = collate([data[0], {**data[1], **cut}], layout.pad)  # the second row padded after 20 tokens
    pos = model.encoder.embeddings.position_ids(short.input_ids)
    offset = model.config.encoder.position_offset
    assert pos[0].tolist() == list(range(offset, offset + short.input_ids.shape[1]))
    assert pos[1, :20].tolist() == list(range(offset, offset + 20))
    assert (pos[1, 20:] == offset - 1).all()  # padding gets the padding position, as HF RoBERTa


def test_position_init_sinusoidal_starts_from_the_sinusoid_and_keeps_training_it(tmp_path, small_shards):
    from reprlab.text import sinusoidal_table
    from reprlab.train import TrainConfig

    def run(name: str, steps: int):
        cfg = PretrainRunConfig(shards=str(small_shards), model="tiny", instances=InstanceConfig(max_length=32),
                                position_init="sinusoidal",
                                train=TrainConfig(output_dir=str(tmp_path / name), max_steps=steps, batch_size=8,
                                                  warmup_steps=1, progress=False, save_every=None, eval_every=None))
        run_pretrain(cfg)
        return load_pretrained(tmp_path / name).encoder.embeddings.position.weight.detach()

    table = run("start", 1)
    sinus = sinusoidal_table(*table.shape)
    sinus = sinus * (0.02 / sinus.std())  # scaled to the token table's initializer_range
    # one AdamW step of lr/2 (warmup) moves an entry by ~lr/2 at most: the table is the sinusoid, trained
    assert 0 < float((table - sinus).abs().max()) < 1e-3
    with pytest.raises(ConfigError, match="position_init"):
        PretrainRunConfig(position_init="zeros")  # type: ignore[arg-type]
