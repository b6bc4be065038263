"""SimCLR: batched torch augmentations vs a per-image PIL/NumPy pipeline, and pretraining step time.

Cases
-----
* augment: one SimCLR view (random resized crop + flip, colour jitter with brightness, contrast,
  saturation and hue, random grayscale, Gaussian blur) of a batch of RGB 32x32 images. Ours draws
  per-sample parameters and applies them to the whole batch at once; the reference loops over the
  images with Pillow (``Image.resize(box=...)``, ``ImageEnhance``, HSV via ``convert("HSV")``,
  ``ImageFilter.GaussianBlur``), the way a torchvision-style per-item Dataset transform works.
* step: a full pretraining step (two views, small CNN encoder, projection head, NT-Xent, AdamW
  update) on Fashion-MNIST-sized 28x28 grey images with batched views vs the same step with the
  per-image PIL views: how much of a step the augmentation costs.

Usage: ``python benchmarks/bench_simclr.py [--quick]`` (writes rows into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageEnhance, ImageFilter  # noqa: E402

from reprlab.vision.contrastive.augment import AugmentConfig, SimCLRAugment, sample_crop_boxes  # noqa: E402

from harness import compare, write_rows  # noqa: E402

CFG = AugmentConfig(crop_scale=(0.2, 1.0), blur_p=0.5)


def pil_view(img: np.ndarray, rng: np.random.Generator, gen: torch.Generator) -> np.ndarray:
    """One SimCLR view of one HxWxC uint8 image with Pillow (same parameter distribution as ours)."""
    h, w = img.shape[:2]
    mode = "L" if img.shape[2] == 1 else "RGB"
    im = Image.fromarray(img[..., 0] if mode == "L" else img, mode)
    x0, y0, bw, bh = sample_crop_boxes(1, h, w, CFG.crop_scale, CFG.crop_ratio, gen)[0].tolist()
    im = im.resize((w, h), Image.BILINEAR, box=(x0, y0, x0 + bw, y0 + bh))
    if rng.random() < CFG.flip_p:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < CFG.jitter_p:
        for i in rng.permutation(4):
            if i == 0:
                im = ImageEnhance.Brightness(im).enhance(rng.uniform(1 - CFG.brightness, 1 + CFG.brightness))
            elif i == 1:
                im = ImageEnhance.Contrast(im).enhance(rng.uniform(1 - CFG.contrast, 1 + CFG.contrast))
            elif i == 2 and mode == "RGB":
                im = ImageEnhance.Color(im).enhance(rng.uniform(1 - CFG.saturation, 1 + CFG.saturation))
            elif i == 3 and mode == "RGB":
                hsv = np.asarray(im.convert("HSV")).copy()
                hsv[..., 0] = (hsv[..., 0].astype(np.int16) + int(rng.uniform(-CFG.hue, CFG.hue) * 255)) % 256
                im = Image.fromarray(hsv, "HSV").convert("RGB")
    if mode == "RGB" and rng.random() < CFG.grayscale_p:
        im = im.convert("L").convert("RGB")
    if rng.random() < CFG.blur_p:
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(*CFG.blur_sigma)))
    out = np.asarray(im)
    return out[..., None] if out.ndim == 2 else out


def pil_batch(x: torch.Tensor, rng: np.random.Generator, gen: torch.Generator) -> torch.Tensor:
    """Per-image reference: tensor batch -> uint8 images -> Pillow views -> float tensor batch."""
    arr = (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    views = np.stack([pil_view(a, rng, gen) for a in arr])
    return torch.from_numpy(views).permute(0, 3, 1, 2).float() / 255


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller batches, fewer repeats")
    args = parser.parse_args()
    batch = 128 if args.quick else 256
    repeats = 3 if args.quick else 5
    rows = []

    x = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    aug = SimCLRAugment(CFG)
    gen, pgen, rng = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1), np.random.default_rng(0)

    def rate(r_ours, r_ref):
        return f"same transforms and parameter ranges; mean pixel {float(r_ours.mean()):.3f} vs {float(r_ref.mean()):.3f}"

    threads = torch.get_num_threads()
    for n_threads in sorted({1, threads}):  # Pillow is single-threaded: the 1-thread row is like for like
        torch.set_num_threads(n_threads)
        suffix = "" if n_threads == threads else f", {n_threads} torch thread"
        row = compare("simclr", f"augment one view, {batch} RGB 32x32{suffix}",
                      lambda: aug(x, gen), lambda: pil_batch(x, rng, pgen),
                      reference_name="Pillow per image (ImageEnhance/HSV/GaussianBlur)",
                      repeats=repeats, quality=rate)
        row.quality += f"; {batch / row.ours_s:.0f} vs {batch / row.ref_s:.0f} images/s"
        rows.append(row)
    torch.set_num_threads(threads)

    from reprlab.vision.contrastive.backbones import small_cnn
    from reprlab.vision.contrastive.losses import nt_xent
    from reprlab.vision.contrastive.simclr import ProjectionHead

    torch.manual_seed(0)
    encoder = small_cnn(1, width=32)
    head = ProjectionHead(encoder.feature_dim, 512, 128)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3)
    grey = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    aug1 = SimCLRAugment(AugmentConfig())

    def step(views: tuple[torch.Tensor, torch.Tensor]) -> float:
        z = head(encoder(torch.cat(views)))
        loss = nt_xent(z[:batch], z[batch:], 0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    row = compare("simclr", f"pretraining step, small CNN, batch {batch} 28x28",
                  lambda: step((aug1(grey, gen), aug1(grey, gen))),
                  lambda: step((pil_batch(grey, rng, pgen), pil_batch(grey, rng, pgen))),
                  reference_name="same step, Pillow per-image views", repeats=repeats,
                  quality="identical model/loss/optimizer; only the view pipeline differs")
    row.quality += f"; {batch / row.ours_s:.0f} vs {batch / row.ref_s:.0f} images/s"
    rows.append(row)
    rows += layout_rows(batch, repeats)
    write_rows(rows)


def layout_rows(batch: int, repeats: int) -> list:
    """The recipe's training step (channels-last, and bf16 autocast) against NCHW float32, PyTorch's default.

    Both sides are the whole ``SimCLRObjective`` step (two views, encoder, head, NT-Xent in float32,
    online probe, AdamW) on the same images from the same initial weights.
    """
    from reprlab.data import load_dataset
    from reprlab.vision.contrastive.backbones import small_cnn
    from reprlab.vision.contrastive.runs import fashion_recipe
    from reprlab.vision.contrastive.simclr import SimCLRObjective

    data = load_dataset("fashion-mnist")
    x, y = data.x[:batch], data.y[:batch]
    model_cfg = fashion_recipe()[0]

    def make_step(channels_last: bool, bf16: bool):
        torch.manual_seed(0)
        objective = SimCLRObjective(model_cfg, encoder=small_cnn(1, width=32, channels_last=channels_last)).train()
        opt = torch.optim.AdamW(objective.parameters(), lr=1e-3)

        def step() -> float:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = objective((x, y))
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            return float(out.metrics["ntxent"])
        return step

    def same(a: float, b: float) -> str:
        return f"same initial weights and views; NT-Xent after the timed steps {a:.3f} vs {b:.3f}"

    rows = []
    nchw = make_step(False, False)
    for case, ours in ((f"recipe step, batch {batch} 28x28: channels-last, float32", make_step(True, False)),
                       (f"recipe step, batch {batch} 28x28: channels-last + bf16 autocast", make_step(True, True))):
        row = compare("simclr", case, ours, nchw, reference_name="same step, NCHW float32 (PyTorch default)",
                      repeats=repeats, quality=same)
        row.quality += f"; {batch / row.ours_s:.0f} vs {batch / row.ref_s:.0f} images/s"
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
