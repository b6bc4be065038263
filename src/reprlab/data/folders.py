"""Image folders: ``DIR/<class>/<image>`` read with Pillow into an :class:`ArrayDataset`."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from reprlab.data.dataset import ArrayDataset
from reprlab.errors import DataError, MissingDataError

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def load_image_folder(directory: str | Path, image_size: int = 32, *, strict: bool = False) -> ArrayDataset:
    """Read ``directory/<class>/<image>`` into an :class:`ArrayDataset` of ``(N, C, S, S)`` floats.

    Images are converted to grey when every readable file is grey (``L``), else to RGB, and resized
    to ``image_size`` with bilinear filtering. Unreadable files are skipped and counted in a
    warning; ``strict=True`` raises :class:`DataError` naming the first one.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(directory)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not classes:
        raise MissingDataError(f"{root}: expected class sub-directories holding images "
                               "(DIR/<class>/<image>.png)")
    images, labels, bad = [], [], []
    for label, name in enumerate(classes):
        for path in sorted(p for p in (root / name).rglob("*") if p.is_file()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(path) as im:
                    im.load()
                    images.append(im.copy())
                labels.append(label)
            except (UnidentifiedImageError, OSError, ValueError) as e:
                if strict:
                    raise DataError(f"{path}: unreadable image ({e}); remove it or drop --strict to "
                                    "skip unreadable files") from None
                bad.append(path)
    if bad:
        log.warning("%s: skipped %d unreadable image file(s), e.g. %s", root, len(bad), bad[0])
    if not images:
        raise DataError(f"{root}: no readable images found (suffixes {', '.join(IMAGE_SUFFIXES)})")
    mode = "L" if all(im.mode in ("L", "1", "I;16", "I") for im in images) else "RGB"
    arrays = [np.asarray(im.convert(mode).resize((image_size, image_size), Image.Resampling.BILINEAR),
                         dtype=np.float32) / 255.0 for im in images]
    x = torch.from_numpy(np.stack(arrays))
    x = x.unsqueeze(1) if mode == "L" else x.permute(0, 3, 1, 2).contiguous()
    return ArrayDataset(x, torch.tensor(labels, dtype=torch.long), tuple(classes), str(root))


__all__ = ["IMAGE_SUFFIXES", "load_image_folder"]
