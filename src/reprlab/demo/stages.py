"""The demo's stages in story order: the BERT source text, then the Hinton talk.

A stage whose domain is not in this build yet (``requires``) stays in the list and is reported as
skipped, so it appears in the report the day its domain lands.
"""

from __future__ import annotations

from reprlab.demo.attention_stage import MINILM_MODULE, attention_stage, why_attention_stage
from reprlab.demo.stage import Stage
from reprlab.demo.text_stages import pretrain_stage, tokenizers_stage
from reprlab.demo.transfer_stage import transfer_stage
from reprlab.demo.vision_stages import generative_stage, imax_stage, maps_stage, objectives_stage, simclr_stage

STAGES: tuple[Stage, ...] = (
    Stage("tokenizers", "1. Tokenizers: WordPiece and BPE", tokenizers_stage, parts=4),
    Stage("pretrain", "2. Pretraining a tiny BERT (MLM + SOP), parameters, fill; a causal LM's sample", pretrain_stage,
          parts=5, version=2),
    Stage("transfer", "3. Transfer: features vs fine-tuning vs scratch vs TF-IDF", transfer_stage, parts=2,
          depends=("pretrain",)),
    Stage("why-attention", "4. Why attention: Transformer vs LSTM vs CNN at distance d", why_attention_stage),
    Stage("objectives", "5. Three objectives: likelihood (GMM), reconstruction, coherence, clustered",
          objectives_stage),
    Stage("attention", "6. Attention as retrieval: 'June' as a month or a name, refined layer by layer",
          attention_stage, requires=MINILM_MODULE),
    Stage("generative", "7. Deep autoencoder vs PCA, ReLU vs sigmoid, VAE samples", generative_stage, parts=3,
          version=2),
    Stage("simclr", "8. SimCLR: linear/kNN evaluation, 1% labels vs supervised", simclr_stage, parts=3),
    Stage("imax", "9. IMAX: disparity from random-dot stereograms, and the Gaussian failure", imax_stage, parts=2),
    Stage("maps", "10. LLE vs SNE vs t-SNE maps of the learned representations", maps_stage, parts=3, version=2,
          depends=("simclr",)),
)

__all__ = ["STAGES"]
