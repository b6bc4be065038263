"""Data plumbing: named image data sets, IDX files, image folders, streamed text corpora, labelled
texts with fixed splits, numeric matrices, bundled samples."""

from reprlab.data.arrays import read_matrix, save_npy
from reprlab.data.dataset import ArrayDataset, keep_batch
from reprlab.data.folders import IMAGE_SUFFIXES, load_image_folder
from reprlab.data.images import FASHION_MNIST_DIR, load_idx_dir, read_idx
from reprlab.data.labeled_text import (
                                       LabeledTexts,
                                       read_labeled_tsv,
                                       split_of,
                                       wordnet_supersenses,
                                       wordnet_words_in_context,
)
from reprlab.data.registry import available_datasets, load_dataset, register_dataset
from reprlab.data.spec import DataSpec, load_split
from reprlab.data.text import (
    expand_paths,
    iter_documents,
    iter_lines,
    kjv_chapters,
    sample_path,
    split_sentences,
    wordnet_glosses,
)

__all__ = ["ArrayDataset", "keep_batch", "available_datasets", "load_dataset", "register_dataset", "read_idx",
           "load_idx_dir", "FASHION_MNIST_DIR", "DataSpec", "load_split", "load_image_folder",
           "IMAGE_SUFFIXES", "iter_documents", "iter_lines", "expand_paths", "sample_path",
           "wordnet_glosses", "kjv_chapters", "split_sentences", "LabeledTexts", "read_labeled_tsv", "split_of",
           "wordnet_supersenses", "wordnet_words_in_context", "read_matrix", "save_npy"]
