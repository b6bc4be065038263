"""reprlab.vision: image representation learning.

Reconstruction and generative models (Hinton & Salakhutdinov 2006; Kingma & Welling 2013):
deep autoencoders, RBMs trained by CD-k/PCD with AIS log-likelihoods, greedy DBN and stacked
autoencoder pretraining, and the VAE with IWAE bounds. Contrastive learning (Chen et al. 2020):
batched seeded augmentations, ResNet/small-CNN backbones, projection head and NT-Xent (SimCLR).
See docs/generative.md and docs/simclr.md. (The paired-row InfoNCE loss is
:func:`reprlab.coherence.info_nce`; ``reprlab.vision.losses.info_nce`` is the query/keys form NT-Xent
is built on.)
"""

from reprlab.vision.ais import ais_log_partition, average_log_likelihood, exact_log_partition
from reprlab.vision.augment import AugmentConfig, SimCLRAugment, TwoViews
from reprlab.vision.autoencoder import AutoencoderConfig, AutoencoderObjective, DeepAutoencoder
from reprlab.vision.backbones import ResNet, SmallCNN, build_backbone, resnet18, resnet34, resnet50, small_cnn
from reprlab.vision.generative_eval import code_probe, pca_reconstruction, squared_error_per_image
from reprlab.vision.losses import NTXentLoss, nt_xent
from reprlab.vision.rbm import RBM, RBMConfig, RBMObjective
from reprlab.vision.simclr import ProjectionHead, SimCLRConfig, SimCLRObjective
from reprlab.vision.stacked import (DBNConfig, DBNStack, StackedAEConfig, dbn_log_likelihood_bound,
                                    pretrain_dbn, pretrain_stacked_autoencoder)
from reprlab.vision.vae import VAE, VAEConfig, VAEObjective, evaluate_vae, iwae_bound

__all__ = [
    "AutoencoderConfig", "DeepAutoencoder", "AutoencoderObjective", "RBMConfig", "RBM", "RBMObjective",
    "ais_log_partition", "exact_log_partition", "average_log_likelihood", "DBNConfig", "DBNStack",
    "pretrain_dbn", "dbn_log_likelihood_bound", "StackedAEConfig", "pretrain_stacked_autoencoder",
    "VAEConfig", "VAE", "VAEObjective", "iwae_bound", "evaluate_vae", "squared_error_per_image",
    "pca_reconstruction", "code_probe", "AugmentConfig", "SimCLRAugment", "TwoViews", "build_backbone",
    "ResNet", "SmallCNN", "resnet18", "resnet34", "resnet50", "small_cnn", "nt_xent",
    "NTXentLoss", "ProjectionHead", "SimCLRConfig", "SimCLRObjective",
]
