"""reprlab.vision: image representation learning, in two families.

* :mod:`reprlab.vision.generative` — reconstruction and generative models (Hinton & Salakhutdinov
  2006; Kingma & Welling 2013): deep autoencoders, RBMs (CD-k/PCD, AIS), greedy DBN and stacked
  autoencoder pretraining, the VAE with IWAE bounds (docs/generative.md).
* :mod:`reprlab.vision.contrastive` — contrastive learning (Chen et al. 2020): batched seeded
  augmentations, ResNet/small-CNN backbones, projection head and NT-Xent (SimCLR; docs/simclr.md).

Every public name of both families is also importable from ``reprlab.vision``.
"""

from reprlab.vision.contrastive import *  # noqa: F401,F403
from reprlab.vision.contrastive import __all__ as _contrastive
from reprlab.vision.generative import *  # noqa: F401,F403
from reprlab.vision.generative import __all__ as _generative

__all__ = [*_generative, *_contrastive]
