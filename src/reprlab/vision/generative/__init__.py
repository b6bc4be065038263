"""Reconstruction and generative models of images (Hinton & Salakhutdinov 2006; Kingma & Welling 2013).

Deep autoencoders, RBMs trained by CD-k/PCD with AIS log-likelihoods, greedy DBN and stacked
autoencoder pretraining, and the VAE with IWAE bounds; the runs behind ``reprlab autoencoder|rbm|vae``
are in :mod:`reprlab.vision.generative.runs`. See docs/generative.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports

if TYPE_CHECKING:
    from reprlab.vision.generative.ais import ais_log_partition, average_log_likelihood, exact_log_partition
    from reprlab.vision.generative.autoencoder import (
        AutoencoderConfig,
        AutoencoderObjective,
        DeepAutoencoder,
        default_hidden,
    )
    from reprlab.vision.generative.evaluation import code_probe, pca_reconstruction, squared_error_per_image
    from reprlab.vision.generative.rbm import RBM, RBMConfig, RBMObjective
    from reprlab.vision.generative.runs import (
        AutoencoderResult,
        AutoencoderRunConfig,
        InitComparisonResult,
        InitComparisonRunConfig,
        RBMResult,
        RBMRunConfig,
        VAEResult,
        VAERunConfig,
        run_autoencoder,
        run_init_comparison,
        run_rbm,
        run_vae,
    )
    from reprlab.vision.generative.stacked import (
        DBNConfig,
        DBNStack,
        StackedAEConfig,
        dbn_log_likelihood_bound,
        pretrain_dbn,
        pretrain_stacked_autoencoder,
    )
    from reprlab.vision.generative.vae import VAE, VAEConfig, VAEObjective, evaluate_vae, iwae_bound

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "ais": ("ais_log_partition", "average_log_likelihood", "exact_log_partition"),
    "autoencoder": ("AutoencoderConfig", "AutoencoderObjective", "DeepAutoencoder", "default_hidden"),
    "evaluation": ("code_probe", "pca_reconstruction", "squared_error_per_image"),
    "rbm": ("RBM", "RBMConfig", "RBMObjective"),
    "runs": ("AutoencoderResult", "AutoencoderRunConfig", "InitComparisonResult", "InitComparisonRunConfig", "RBMResult", "RBMRunConfig", "VAEResult", "VAERunConfig", "run_autoencoder", "run_init_comparison", "run_rbm", "run_vae"),
    "stacked": ("DBNConfig", "DBNStack", "StackedAEConfig", "dbn_log_likelihood_bound", "pretrain_dbn", "pretrain_stacked_autoencoder"),
    "vae": ("VAE", "VAEConfig", "VAEObjective", "evaluate_vae", "iwae_bound"),
})
