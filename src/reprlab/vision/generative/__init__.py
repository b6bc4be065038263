"""Reconstruction and generative models of images (Hinton & Salakhutdinov 2006; Kingma & Welling 2013).

Deep autoencoders, RBMs trained by CD-k/PCD with AIS log-likelihoods, greedy DBN and stacked
autoencoder pretraining, and the VAE with IWAE bounds; the runs behind ``reprlab autoencoder|rbm|vae``
are in :mod:`reprlab.vision.generative.runs`. See docs/generative.md.
"""

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

__all__ = [
    "AutoencoderConfig", "DeepAutoencoder", "AutoencoderObjective", "default_hidden", "RBMConfig", "RBM", "RBMObjective",
    "ais_log_partition", "exact_log_partition", "average_log_likelihood", "DBNConfig", "DBNStack",
    "pretrain_dbn", "dbn_log_likelihood_bound", "StackedAEConfig", "pretrain_stacked_autoencoder",
    "VAEConfig", "VAE", "VAEObjective", "iwae_bound", "evaluate_vae", "squared_error_per_image",
    "pca_reconstruction", "code_probe", "AutoencoderRunConfig", "AutoencoderResult", "run_autoencoder",
    "InitComparisonRunConfig", "InitComparisonResult", "run_init_comparison", "RBMRunConfig", "RBMResult",
    "run_rbm", "VAERunConfig", "VAEResult", "run_vae",
]
