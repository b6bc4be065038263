"""Image data sets: sklearn's bundled digits, and MNIST-format IDX files (Fashion-MNIST, MNIST).

The loaders are registered by name in :mod:`reprlab.data.registry`.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from reprlab.data.dataset import ArrayDataset
from reprlab.errors import DataError, MissingDataError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
_IDX_DTYPES: dict[int, np.dtype] = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
                                    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (LeCun's MNIST format), gzipped or not, into a NumPy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise MissingDataError(f"{path}: file not found") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: unreadable ({e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = _IDX_DTYPES[data[2]]
    expected = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * ndim:]
    if len(body) != expected:
        raise DataError(f"{path}: truncated IDX file ({len(body)} bytes of data, header says {expected})")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.exists():
            return candidate
    raise MissingDataError(f"{directory}: no {stem}[.gz] here")


def load_idx_dir(directory: Path, split: str = "train", classes: tuple[str, ...] = (),
                 name: str = "") -> ArrayDataset:
    """Images + labels from ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` in ``directory``."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_find(directory, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{directory}: images {images.shape} and labels {labels.shape} do not pair up")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return ArrayDataset(x, y, classes, name or f"{directory}:{split}")


def load_fashion_mnist(split: str = "train", path: str | Path | None = None) -> ArrayDataset:
    """Fashion-MNIST (Xiao et al. 2017): 60k/10k 28x28 grey images, 10 classes, MIT licence."""
    directory = Path(path) if path else FASHION_MNIST_DIR
    if not directory.is_dir():
        raise MissingDataError(
            f"Fashion-MNIST not found at {directory}; install it with "
            "'apt-get install dataset-fashion-mnist' (Debian/Ubuntu) or pass path=DIR holding the IDX files")
    return load_idx_dir(directory, split, FASHION_MNIST_CLASSES, f"fashion-mnist:{split}")


def load_mnist(split: str = "train", path: str | Path | None = None) -> ArrayDataset:
    """MNIST from a user-provided directory of IDX files (no package ships it)."""
    if path is None:
        raise MissingDataError("MNIST is not bundled; pass path=DIR (or --data DIR) holding "
                               "train-images-idx3-ubyte.gz etc., or use 'fashion-mnist'")
    return load_idx_dir(Path(path), split, tuple(str(i) for i in range(10)), f"mnist:{split}")


def load_digits(split: str = "train", path: str | Path | None = None) -> ArrayDataset:
    """scikit-learn's bundled 8x8 digits (1,797 images). Split: a fixed, stratified 80/20."""
    from sklearn.datasets import load_digits as sk_load
    from sklearn.model_selection import train_test_split

    d = sk_load()
    idx_train, idx_test = train_test_split(np.arange(len(d.target)), test_size=0.2, random_state=0,
                                           stratify=d.target)
    idx = idx_train if split == "train" else idx_test
    x = torch.from_numpy((d.images[idx] / 16.0).astype(np.float32)).unsqueeze(1)
    y = torch.from_numpy(d.target[idx].astype(np.int64))
    return ArrayDataset(x, y, tuple(str(i) for i in range(10)), f"digits:{split}")
