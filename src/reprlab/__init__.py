"""reprlab: self-supervised representation learning and transfer in PyTorch.

Subpackages (one per domain; see docs/architecture.md):
``tokenizers`` ``text`` ``pretrain`` ``transfer`` ``vision`` ``coherence`` ``embed``,
with shared machinery in ``train`` (the one Trainer), ``data`` and ``cli``.
Importing ``reprlab`` is cheap and has no side effects; import the subpackage you need.
"""

__version__ = "0.1.0"

from reprlab.errors import ReprlabError  # noqa: E402

__all__ = ["__version__", "ReprlabError"]
