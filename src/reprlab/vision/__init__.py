"""reprlab.vision: image representation learning, in two families.

* :mod:`reprlab.vision.generative` — reconstruction and generative models (Hinton & Salakhutdinov
  2006; Kingma & Welling 2013): deep autoencoders, RBMs (CD-k/PCD, AIS), greedy DBN and stacked
  autoencoder pretraining, the VAE with IWAE bounds (docs/generative.md).
* :mod:`reprlab.vision.contrastive` — contrastive learning (Chen et al. 2020): batched seeded
  augmentations, ResNet/small-CNN backbones, projection head and NT-Xent (SimCLR; docs/simclr.md).

Every public name of both families is also importable from ``reprlab.vision``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports
from reprlab.vision import contrastive, generative

if TYPE_CHECKING:
    from reprlab.vision.contrastive import *  # noqa: F403
    from reprlab.vision.generative import *  # noqa: F403

__all__, __getattr__, __dir__ = lazy_exports(__name__, {"generative": generative.__all__,
                                                        "contrastive": contrastive.__all__})
