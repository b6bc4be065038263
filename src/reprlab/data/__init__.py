"""Data plumbing: named image data sets, IDX files, streamed text corpora, bundled samples."""

from reprlab.data.arrays import read_matrix, save_npy
from reprlab.data.images import FASHION_MNIST_DIR, load_idx_dir, read_idx
from reprlab.data.labeled_text import (LabeledTexts, read_labeled_tsv, split_of, wordnet_supersenses,
                                       wordnet_words_in_context)
from reprlab.data.registry import ArrayDataset, available_datasets, load_dataset, register_dataset
from reprlab.data.text import (expand_paths, iter_documents, iter_lines, sample_path,
                               wordnet_glosses)

__all__ = ["ArrayDataset", "available_datasets", "load_dataset", "register_dataset", "read_idx",
           "load_idx_dir", "FASHION_MNIST_DIR", "iter_documents", "iter_lines", "expand_paths",
           "sample_path", "wordnet_glosses", "LabeledTexts", "read_labeled_tsv", "split_of", "wordnet_supersenses",
           "wordnet_words_in_context", "read_matrix", "save_npy"]
