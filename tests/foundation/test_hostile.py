"""The foundation under a hostile user (issue 13): odd headers, flipped bytes, bad configs, full disks."""

import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import load_file

from reprlab.errors import CheckpointError
from reprlab.train.checkpoint import load_tensors, refuse_pickle


def _safetensors_with_header_length(n: int) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}, separators=(",", ":"))
    header += " " * (n - len(header))
    return struct.pack("<Q", n) + header.encode() + torch.arange(3, dtype=torch.float32).numpy().tobytes()


def test_safetensors_of_every_header_length_residue_load(tmp_path):
    # the header length's low byte is the file's first byte: 0x80 (128) looked like a pickle
    path = tmp_path / "w.safetensors"
    for n in range(256, 512):
        path.write_bytes(_safetensors_with_header_length(n))
        refuse_pickle(path)
        assert torch.equal(load_tensors(path)["w"], torch.arange(3.0)), n
        assert torch.equal(load_file(path)["w"], torch.arange(3.0))


@pytest.mark.parametrize("kind", ["zip", "legacy", "pickle2", "pickle5"])
def test_pickles_and_torch_archives_are_refused(tmp_path, kind):
    path = tmp_path / "model.safetensors"
    obj = {"w": torch.zeros(2)}
    if kind == "zip":
        torch.save(obj, path)
    elif kind == "legacy":
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps({"w": [0.0, 0.0]}, protocol=int(kind[-1])))
    with pytest.raises(CheckpointError, match="pickle/torch.save file; reprlab never unpickles"):
        load_tensors(path)


def test_garbage_starting_like_a_pickle_is_called_corrupt(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x80\x04" + b"\x00" * 40)  # protocol opcode, no STOP: not a pickle
    with pytest.raises(CheckpointError, match="corrupt or truncated safetensors"):
        load_tensors(path)
