"""Instance builders: NSP against a line-by-line transcription of BERT's reference, SOP, FULL-/DOC-SENTENCES."""

from __future__ import annotations

import random

import numpy as np
import pytest

from reprlab.errors import DataError
from reprlab.pretrain.instances import (
    InstanceConfig,
    build_instances,
    group_by_tokens,
    instance_lengths,
    nsp_instances,
    sop_instances,
)
from reprlab.pretrain.shards import PrepareConfig, ShardSet, prepare_shards


# ------------------------------------------------------------------------------------------------
# google-research/bert create_pretraining_data.py, transcribed line by line (create_training_instances
# from "rng.shuffle(all_documents)" on, create_instances_from_document, truncate_seq_pair). Masking
# (create_masked_lm_predictions) is left out: reprlab masks later with its own keyed generator, so the
# builder consumes the random stream exactly as the reference does without that call.
def reference_truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
    while True:
        total_length = len(tokens_a) + len(tokens_b)
        if total_length <= max_num_tokens:
            break
        trunc_tokens = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        assert len(trunc_tokens) >= 1
        if rng.random() < 0.5:
            del trunc_tokens[0]
        else:
            trunc_tokens.pop()


def reference_create_instances_from_document(all_documents, document_index, max_seq_length, short_seq_prob, rng):
    document = all_documents[document_index]
    max_num_tokens = max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)
    instances = []
    current_chunk = []
    current_length = 0
    i = 0
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment)
        if i == len(document) - 1 or current_length >= target_seq_length:
            if current_chunk:
                a_end = 1
                if len(current_chunk) >= 2:
                    a_end = rng.randint(1, len(current_chunk) - 1)
                tokens_a = []
                for j in range(a_end):
                    tokens_a.extend(current_chunk[j])
                tokens_b = []
                is_random_next = False
                if len(current_chunk) == 1 or rng.random() < 0.5:
                    is_random_next = True
                    target_b_length = target_seq_length - len(tokens_a)
                    for _ in range(10):
                        random_document_index = rng.randint(0, len(all_documents) - 1)
                        if random_document_index != document_index:
                            break
                    random_document = all_documents[random_document_index]
                    random_start = rng.randint(0, len(random_document) - 1)
                    for j in range(random_start, len(random_document)):
                        tokens_b.extend(random_document[j])
                        if len(tokens_b) >= target_b_length:
                            break
                    num_unused_segments = len(current_chunk) - a_end
                    i -= num_unused_segments
                else:
                    is_random_next = False
                    for j in range(a_end, len(current_chunk)):
                        tokens_b.extend(current_chunk[j])
                reference_truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
                assert len(tokens_a) >= 1
                assert len(tokens_b) >= 1
                instances.append((tokens_a, tokens_b, is_random_next))
            current_chunk = []
            current_length = 0
        i += 1
    return instances


def reference_create_training_instances(all_documents, max_seq_length, dupe_factor, short_seq_prob, rng):
    all_documents = [x for x in all_documents if x]
    rng.shuffle(all_documents)
    instances = []
    for _ in range(dupe_factor):
        for document_index in range(len(all_documents)):
            instances.extend(reference_create_instances_from_document(
                all_documents, document_index, max_seq_length, short_seq_prob, rng))
    rng.shuffle(instances)
    return instances
# ------------------------------------------------------------------------------------------------


def documents_as_token_lists(shards: ShardSet) -> list[list[list[int]]]:
    tokens = shards.read("tokens", 0, shards.num_tokens).tolist()
    so, do = shards.sentence_offsets, shards.document_offsets
    return [[tokens[so[s]:so[s + 1]] for s in range(do[d], do[d + 1])] for d in range(shards.num_documents)]


def segments(shards: ShardSet, inst, i):
    a = shards.read("tokens", int(inst.a_lo[i]), int(inst.a_hi[i])).tolist()
    b = shards.read("tokens", int(inst.b_lo[i]), int(inst.b_hi[i])).tolist()
    return a, b


@pytest.mark.parametrize("max_length,short_seq_prob,dupe", [(128, 0.1, 2), (32, 0.5, 1)])
def test_nsp_matches_reference_transcription_instance_for_instance(train_shards, max_length, short_seq_prob, dupe):
    seed = 12345  # the reference's default random_seed
    ref = reference_create_training_instances(documents_as_token_lists(train_shards), max_length, dupe,
                                              short_seq_prob, random.Random(seed))
    ours = nsp_instances(train_shards, InstanceConfig(max_length=max_length, short_seq_prob=short_seq_prob,
                                                      dupe_factor=dupe), seed=seed)
    assert len(ours) == len(ref) > 500
    for i, (a, b, is_random_next) in enumerate(ref):
        assert segments(train_shards, ours, i) == (a, b), i
        assert int(ours.label[i]) == int(is_random_next), i


def test_nsp_label_rate_negatives_and_lengths(train_shards):
    inst = nsp_instances(train_shards, InstanceConfig(max_length=128, dupe_factor=10), seed=0)
    st = inst.stats
    # chunks of >= 2 segments: a fair coin; one-segment chunks always take a random B
    assert abs(st["label_1_rate_multi_segment"] - 0.5) < 0.02, st
    assert st["single_segment_chunks"] > 0 and st["label_1_rate"] > st["label_1_rate_multi_segment"]
    doc_of = np.searchsorted(train_shards.document_token_offsets(), np.arange(train_shards.num_tokens), "right") - 1
    same_doc = doc_of[inst.a_lo] == doc_of[inst.b_lo]
    assert not same_doc[inst.label == 1].any()  # random next: always another document
    assert same_doc[inst.label == 0].all()
    assert (inst.b_lo[inst.label == 0] >= inst.a_hi[inst.label == 0]).all()  # IsNext: B follows A (ends may be trimmed)
    assert instance_lengths(inst, train_shards).max() <= 128
    assert ((inst.a_hi > inst.a_lo) & (inst.b_hi > inst.b_lo)).all()


def _overlap_features(shards: ShardSet, inst, idf: dict[int, float]) -> np.ndarray:
    """Per pair: Jaccard and IDF-weighted overlap of A's and B's pieces, distinct pieces and lengths of A and B."""
    tokens = shards.read("tokens", 0, shards.num_tokens)
    rows = []
    for a_lo, a_hi, b_lo, b_hi in zip(inst.a_lo, inst.a_hi, inst.b_lo, inst.b_hi):
        a, b = set(tokens[a_lo:a_hi].tolist()), set(tokens[b_lo:b_hi].tolist())
        both, either = a & b, a | b
        rows.append([len(both) / len(either), sum(idf.get(t, 0.0) for t in both) / sum(idf.get(t, 0.0) for t in either),
                     len(a), len(b), a_hi - a_lo, b_hi - b_lo])
    return np.asarray(rows, dtype=np.float64)


def test_nsp_labels_are_predictable_from_what_a_and_b_share(train_shards, sample_shards):
    """The held-out NSP pairs carry the signal a model has to learn: a logistic regression on six
    overlap/length features, fit on the training pairs, reaches a balanced accuracy well above 0.5.

    Measured: 0.69 over five chunkings of the 9 held-out chapters (0.64-0.74 each), where every
    constant prediction scores 0.5. bert-tiny trained with NSP for 400 steps on the same pairs stays
    at 0.5 (and so does HF ``BertForPreTraining``): the pair task is not learnt in minutes although
    the data holds it (docs/pretrain.md, "NSP and SOP"; the slow 400-step run this replaces cost
    ~2 minutes and xfailed).
    """
    from sklearn.linear_model import LogisticRegression

    cfg = InstanceConfig(max_length=64, dupe_factor=5)
    tokens, starts = train_shards.read("tokens", 0, train_shards.num_tokens), train_shards.document_token_offsets()
    df: dict[int, int] = {}
    for d in range(len(starts) - 1):
        for t in set(tokens[starts[d]:starts[d + 1]].tolist()):
            df[t] = df.get(t, 0) + 1
    idf = {t: float(np.log((len(starts) - 1) / c)) for t, c in df.items()}
    train = nsp_instances(train_shards, cfg, seed=0)
    x = _overlap_features(train_shards, train, idf)
    mean, std = x.mean(0), x.std(0)
    clf = LogisticRegression(max_iter=1000).fit((x - mean) / std, train.label)
    held_out = ShardSet(sample_shards, "valid")
    balanced = []
    for seed in range(5):
        inst = nsp_instances(held_out, InstanceConfig(max_length=64), seed=seed)
        pred = clf.predict((_overlap_features(held_out, inst, idf) - mean) / std)
        balanced.append(np.mean([np.mean(pred[inst.label == c] == c) for c in (0, 1)]))
    assert np.mean(balanced) > 0.62, balanced


def test_sop_swaps_half_and_keeps_both_segments_in_one_document(train_shards):
    inst = sop_instances(train_shards, InstanceConfig(max_length=64, dupe_factor=10), seed=0)
    assert abs(float(inst.label.mean()) - 0.5) < 0.02
    doc_of = np.searchsorted(train_shards.document_token_offsets(), np.arange(train_shards.num_tokens), "right") - 1
    assert (doc_of[inst.a_lo] == doc_of[inst.b_lo]).all()
    assert (doc_of[inst.a_hi - 1] == doc_of[inst.b_hi - 1]).all()
    kept, swapped = inst.label == 0, inst.label == 1
    assert (inst.a_hi[kept] <= inst.b_lo[kept]).all() and (inst.b_hi[swapped] <= inst.a_lo[swapped]).all()
    assert instance_lengths(inst, train_shards).max() <= 64


def test_full_sentences_fill_and_doc_sentences_never_cross(train_shards):
    starts = train_shards.document_token_offsets()
    full = build_instances(train_shards, InstanceConfig(packing="full-sentences", max_length=128))
    lengths = instance_lengths(full, train_shards)
    assert lengths.max() <= 128 and lengths.sum() / (128 * len(full)) >= 0.95
    assert (full.a_lo[1:] == full.a_hi[:-1]).all() and full.a_hi[-1] == train_shards.num_tokens  # all text, once
    crossing = np.searchsorted(starts, full.a_hi, "left") - np.searchsorted(starts, full.a_lo, "right")
    assert crossing.max() >= 1  # FULL-SENTENCES does cross documents (with a separator each)
    whole = build_instances(train_shards, InstanceConfig(packing="full-sentences", whole_sentences=True))
    so = set(train_shards.sentence_offsets.tolist())
    cut = [int(x) for x in whole.a_hi if int(x) not in so]
    assert len(cut) < 0.01 * len(whole)  # only sentences longer than an instance are cut
    doc = build_instances(train_shards, InstanceConfig(packing="doc-sentences", max_length=128))
    inside = np.searchsorted(starts, doc.a_hi, "left") - np.searchsorted(starts, doc.a_lo, "right")
    assert inside.max() == 0
    assert instance_lengths(doc, train_shards).max() <= 128


def test_doc_sentences_batches_hold_tokens_near_target(train_shards):
    doc = build_instances(train_shards, InstanceConfig(packing="doc-sentences", max_length=128))
    lengths = instance_lengths(doc, train_shards)
    assert lengths.min() < 0.5 * lengths.max()  # short instances at document ends
    target = 32 * 128
    groups = group_by_tokens(lengths, target, seed=0)
    totals = np.asarray([lengths[g].sum() for g in groups])
    assert np.abs(totals[:-1] / target - 1).max() <= 0.05
    sizes = {len(g) for g in groups[:-1]}
    assert len(sizes) > 1 and max(sizes) > 32  # the batch size varies
    assert sorted(np.concatenate(groups).tolist()) == list(range(len(doc)))


def test_one_sentence_documents_are_refused_for_nsp_and_sop(tmp_path, sample_tokenizer):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n\n".join(f"sentence number {i} of its own document" for i in range(40)) + "\n")
    prepare_shards(PrepareConfig(corpus=[str(corpus)], tokenizer=str(sample_tokenizer), output=str(tmp_path / "s"),
                                 valid_fraction=0.0, workers=1))
    shards = ShardSet(tmp_path / "s")
    for packing in ("nsp", "sop"):
        with pytest.raises(DataError, match=r"every document .* has one sentence.*packing=full-sentences"):
            build_instances(shards, InstanceConfig(packing=packing))
    assert len(build_instances(shards, InstanceConfig(packing="full-sentences", max_length=16))) > 10
