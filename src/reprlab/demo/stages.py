"""The demo's stages in story order: the BERT source text, then the Hinton talk.

A stage whose domain is not in this build yet (``requires``) stays in the list and is reported as
skipped, so it appears in the report the day its domain lands.
"""

from __future__ import annotations

from reprlab.demo.stage import Stage
from reprlab.demo.text_stages import pretrain_stage, tokenizers_stage
from reprlab.demo.transfer_stage import transfer_stage
from reprlab.demo.vision_stages import generative_stage, imax_stage, maps_stage, simclr_stage

STAGES: tuple[Stage, ...] = (
    Stage("tokenizers", "1. Tokenizers: WordPiece and BPE", tokenizers_stage, parts=4),
    Stage("pretrain", "2. Pretraining a tiny BERT (MLM + SOP), parameters, fill; a causal LM's sample", pretrain_stage,
          parts=5, version=2),
    Stage("transfer", "3. Transfer: features vs fine-tuning vs scratch vs TF-IDF", transfer_stage, parts=2,
          depends=("pretrain",)),
    Stage("generative", "4. Deep autoencoder vs PCA, ReLU vs sigmoid, VAE samples", generative_stage, parts=3,
          version=2),
    Stage("simclr", "5. SimCLR: linear/kNN evaluation, 1% labels vs supervised", simclr_stage, parts=3),
    Stage("imax", "6. IMAX: disparity from random-dot stereograms, and the Gaussian failure", imax_stage, parts=2),
    Stage("maps", "7. LLE vs SNE vs t-SNE maps of the learned representations", maps_stage, parts=3, version=2,
          depends=("simclr",)),
)

__all__ = ["STAGES"]
