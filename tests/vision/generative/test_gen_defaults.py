"""Defaults that tell the truth: the code size follows small inputs, and the change is said."""

import logging

import torch

from reprlab.data import ArrayDataset
from reprlab.vision.generative.autoencoder import AutoencoderConfig, default_code_dim
from reprlab.vision.generative.runs import _fit_input_dim


def test_digits_get_a_10d_code_not_the_papers_30(caplog):
    assert default_code_dim(784) == 30 and default_code_dim(3072) == 30 and default_code_dim(64) == 10
    digits = ArrayDataset(torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    with caplog.at_level(logging.WARNING):
        cfg = _fit_input_dim(AutoencoderConfig(), digits)
    assert cfg.widths == (64, 164, 82, 41, 10)
    assert "becomes 64-164-82-41-10" in caplog.text
    assert _fit_input_dim(AutoencoderConfig(code_dim=2), digits).code_dim == 2  # a chosen size stays
