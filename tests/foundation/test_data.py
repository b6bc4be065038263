"""Data plumbing: IDX files, named data sets, streamed text corpora and their errors."""

import gzip
import json
import struct

import numpy as np
import pytest
import torch

from reprlab.data import ArrayDataset, iter_documents, iter_lines, load_dataset, read_idx, sample_path
from reprlab.data.images import FASHION_MNIST_DIR, load_fashion_mnist
from reprlab.errors import DataError, MissingDataError


def write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def make_idx_dir(tmp_path, n=5):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels, compress=False)
    return images, labels


def test_idx_round_trip_and_directory_loader(tmp_path):
    images, labels = make_idx_dir(tmp_path)
    assert np.array_equal(read_idx(tmp_path / "t10k-images-idx3-ubyte.gz"), images)
    ds = load_dataset(str(tmp_path), split="test")
    assert ds.x.shape == (5, 1, 28, 28) and ds.x.dtype == torch.float32
    assert torch.allclose(ds.x[:, 0] * 255, torch.from_numpy(images).float())
    assert ds.y.tolist() == labels.tolist()


def test_truncated_and_bad_idx(tmp_path):
    make_idx_dir(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(DataError, match=r"truncated IDX file \(3 bytes of data, header says 5\)"):
        read_idx(path)
    path.write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)
    with pytest.raises(MissingDataError, match="no train-images-idx3-ubyte"):
        load_dataset(str(tmp_path), split="train")


def test_digits_split_is_fixed_and_disjoint():
    train, test = load_dataset("digits"), load_dataset("digits", "test")
    assert (len(train), len(test)) == (1437, 360)
    assert train.x.shape[1:] == (1, 8, 8) and float(train.x.max()) == 1.0
    assert torch.bincount(test.y).min() >= 35  # stratified
    again = load_dataset("digits")
    assert torch.equal(train.x, again.x)


def test_missing_dataset_names_install_command(tmp_path):
    with pytest.raises(MissingDataError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(path=tmp_path / "absent")
    with pytest.raises(MissingDataError, match="unknown data set 'cifar'"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="split='val'"):
        load_dataset("digits", split="val")


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian_package():
    ds = load_dataset("fashion-mnist", "test")
    assert ds.x.shape == (10000, 1, 28, 28) and ds.classes[9] == "Ankle boot"
    assert torch.bincount(ds.y).tolist() == [1000] * 10


def test_array_dataset_checks_lengths():
    with pytest.raises(DataError, match="3 inputs but 2 labels"):
        ArrayDataset(torch.zeros(3, 2), torch.zeros(2))


def test_text_documents_and_jsonl(tmp_path):
    (tmp_path / "a.txt").write_text("First one.\nSecond one.\n\n\nNew doc.\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "x\ny"}) + "\n\n" + json.dumps({"text": "z"}) + "\n")
    docs = list(iter_documents([tmp_path]))
    assert docs == [["First one.", "Second one."], ["New doc."], ["x", "y"], ["z"]]
    assert list(iter_lines([tmp_path / "a.txt"])) == ["First one.", "Second one.", "New doc."]


def test_text_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.txt:2: not valid UTF-8 .* iconv"):
        list(iter_lines([bad]))
    j = tmp_path / "c.jsonl"
    j.write_text('{"body": "x"}\n')
    with pytest.raises(DataError, match=r"c.jsonl:1: expected an object with a string field 'text'"):
        list(iter_lines([j]))
    assert list(iter_lines([j], text_field="body")) == ["x"]
    j.write_text('{"text": \n')
    with pytest.raises(DataError, match=r"c.jsonl:1: not valid JSON"):
        list(iter_lines([j]))
    with pytest.raises(MissingDataError, match="nope.txt: no such file"):
        list(iter_lines([tmp_path / "nope.txt"]))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no text files found"):
        list(iter_lines([empty]))


def test_text_reading_streams(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("line\n" * 1000)
    it = iter_lines([path])
    assert next(it) == "line"  # a generator: nothing forces the whole file into a list


def test_bundled_samples():
    docs = list(iter_documents([sample_path("corpus.txt")]))
    assert len(docs) == 446 and all(len(d) >= 2 for d in docs)
    rows = sample_path("glosses_labeled.tsv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3200 and len({r.split("\t")[0] for r in rows}) == 8


def test_class_folders_hold_out_test_fraction_and_say_so(tmp_path, caplog):
    import logging

    from PIL import Image

    from reprlab.data import DataSpec, load_split

    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(10):
            Image.new("L", (4, 4), color=i * 20).save(tmp_path / c / f"{i}.png")
    spec = DataSpec(name=str(tmp_path), image_size=4, test_fraction=0.3)
    with caplog.at_level(logging.WARNING):
        train, test = load_split(spec, "train"), load_split(spec, "test")
    assert (len(train), len(test)) == (14, 6) and sorted(test.y.tolist()) == [0, 0, 0, 1, 1, 1]
    assert "holding out a seeded stratified 30% (6 of 20 images)" in caplog.text
