"""Random-dot stereograms: shapes, surfaces, exact shifts, non-overlap, bad input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.coherence.stereograms import StereogramConfig, plot_stereograms, random_dot_stereograms
from reprlab.errors import ConfigError


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), p=st.integers(2, 5), h=st.integers(1, 3), w=st.integers(6, 20),
       surface=st.sampled_from(["planar", "curved", "discontinuous"]))
def test_shapes_and_ranges(n, p, h, w, surface):
    cfg = StereogramConfig(n_patches=p, height=h, patch_width=w, disparity_range=(0.5, 2.5), surface=surface)
    s = random_dot_stereograms(n, cfg, seed=1)
    assert s.strips.shape == (n, p, 2, h, w)
    assert s.disparity.shape == (n, p)
    assert float(s.disparity.min()) >= 0.5 - 1e-6 and float(s.disparity.max()) <= 2.5 + 1e-6
    assert s.patch_starts.tolist() == [i * w for i in range(p)]
    left, right = s.images()
    assert left.shape == (n, h, p * w)


def test_seeded_and_reproducible():
    a = random_dot_stereograms(5, seed=3)
    b = random_dot_stereograms(5, seed=3)
    c = random_dot_stereograms(5, seed=4)
    assert torch.equal(a.strips, b.strips) and torch.equal(a.disparity, b.disparity)
    assert not torch.equal(a.strips, c.strips)


def test_surfaces():
    planar = random_dot_stereograms(50, StereogramConfig(n_patches=4), seed=0).disparity
    assert torch.equal(planar, planar[:, :1].expand_as(planar))
    curved = random_dot_stereograms(200, StereogramConfig(n_patches=7, surface="curved"), seed=0).disparity
    steps = (curved[:, 1:] - curved[:, :-1]).abs()
    assert float(steps.max()) < 0.5 * 3.0  # smooth: neighbours differ by well under the range
    assert float(curved.std(1).mean()) > 0.1  # ...but the surface is not flat
    disc = random_dot_stereograms(50, StereogramConfig(n_patches=6, surface="discontinuous"), seed=0).disparity
    jumps = ((disc[:, 1:] - disc[:, :-1]).abs() > 1e-6).sum(1)
    assert torch.all(jumps <= 1) and int(jumps.sum()) > 40


def test_right_eye_is_the_left_eye_shifted():
    # integer disparity 2: right(x) = left(x - 2) exactly where both are inside the strip
    cfg = StereogramConfig(disparity_range=(2.0, 2.0), patch_width=16)
    s = random_dot_stereograms(8, cfg, seed=0)
    left, right = s.strips[:, :, 0], s.strips[:, :, 1]
    assert torch.allclose(right[..., 2:], left[..., :-2], atol=1e-5)
    # sub-pixel: a 0.5 px shift is neither the unshifted nor the 1 px-shifted strip, and the
    # left-right cross-correlation peaks between lags 0 and 1 with equal height at both
    half = random_dot_stereograms(4000, StereogramConfig(disparity_range=(0.5, 0.5)), seed=0).strips
    lft, rgt = half[:, 0, 0, 0], half[:, 0, 1, 0]
    lag0 = float((lft[:, 4:12] * rgt[:, 4:12]).mean())
    lag1 = float((lft[:, 4:12] * rgt[:, 5:13]).mean())
    lag2 = float((lft[:, 4:12] * rgt[:, 6:14]).mean())
    assert lag0 == pytest.approx(lag1, rel=0.1) and lag2 < 0.5 * lag0


def test_patches_share_no_pixels_unless_overlap_is_asked_for():
    s = random_dot_stereograms(2000, StereogramConfig(n_patches=2), seed=0)
    a = s.strips[:, 0, 0, 0, -1]  # last pixel of patch 0
    b = s.strips[:, 1, 0, 0, 0]  # first pixel of patch 1
    corr = torch.corrcoef(torch.stack([a, b]))[0, 1]
    assert abs(float(corr)) < 0.1
    shared = random_dot_stereograms(20, StereogramConfig(n_patches=3, overlap=5), seed=0)
    assert torch.allclose(shared.strips[:, 0, :, :, -5:], shared.strips[:, 1, :, :, :5])
    assert shared.patch_starts.tolist() == [0, 11, 22]


def test_noise_is_added():
    clean = random_dot_stereograms(4, StereogramConfig(), seed=0).strips
    noisy = random_dot_stereograms(4, StereogramConfig(noise=0.5), seed=0).strips
    assert 0.3 < float((noisy - clean).std()) < 0.7


def test_bad_input():
    with pytest.raises(ConfigError, match="smaller than patch_width=8"):
        StereogramConfig(patch_width=8, disparity_range=(0, 9))
    with pytest.raises(ConfigError, match="surface='wavy'"):
        StereogramConfig(surface="wavy")
    with pytest.raises(ConfigError, match="at least 2 patches"):
        StereogramConfig(n_patches=1)
    with pytest.raises(ConfigError, match="n=0"):
        random_dot_stereograms(0)


def test_figure(tmp_path):
    path = plot_stereograms(random_dot_stereograms(3, seed=0), tmp_path / "s.png")
    assert path.stat().st_size > 1000
