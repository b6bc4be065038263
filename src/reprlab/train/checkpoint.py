"""Checkpoints without pickle: weights and optimizer tensors in safetensors, the rest in JSON.

A run directory looks like::

    run/
      config.json              model + train configuration of the run
      model.safetensors        final weights (HF-style ``from_pretrained`` directory)
      metrics.jsonl            one JSON row per logged step
      checkpoint-000500/       written as a whole: temp directory, fsync, rename
        model.safetensors
        optimizer.safetensors  optimizer tensors; param groups and scalars in trainer_state.json
        trainer_state.json     step, epoch, data position, RNG states, optimizer hyper-parameters
      latest                   name of the newest complete checkpoint (atomically replaced)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn

from reprlab.errors import CheckpointError
from reprlab.io import atomic_dir, atomic_path, atomic_write, write_json

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
CHECKSUMMED = ("model.safetensors", "optimizer.safetensors", "config.json")  # sha256 in trainer_state.json
# torch.save's legacy (non-zip) format starts with the pickled magic number 0x1950a86a20f9469cfc6c
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def _is_safetensors(path: Path) -> bool:
    """True when ``path`` starts with a safetensors header: a little-endian u64 length, then a JSON object."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return False
        n = struct.unpack("<Q", head)[0]
        if not 2 <= n <= size - 8 or n > 100_000_000:
            return False
        try:
            header = json.loads(f.read(n))
        except (ValueError, UnicodeDecodeError):
            return False
    return isinstance(header, dict)


def _is_pickle(path: Path) -> bool:
    """A pickle of protocol 2-5 (PROTO opcode first, STOP last) or a legacy ``torch.save`` file."""
    with open(path, "rb") as f:
        head = f.read(len(_TORCH_LEGACY_MAGIC))
        if head.startswith(_TORCH_LEGACY_MAGIC):
            return True
        if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"."


def refuse_pickle(path: Path) -> None:
    """Raise :class:`CheckpointError` when ``path`` holds a pickle or a ``torch.save`` archive.

    A safetensors file begins with its header length (any first byte, 0x80 included), so the
    header is parsed first; a zip archive (``torch.save``'s default) is recognised by its central
    directory, a pickle by its protocol opcode and final STOP.
    """
    if _is_safetensors(path):
        return
    if zipfile.is_zipfile(path) or _is_pickle(path):
        raise CheckpointError(
            f"{path}: this is a pickle/torch.save file; reprlab never unpickles checkpoints "
            "(unpickling runs arbitrary code). Convert it to safetensors with "
            "safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors').")


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file, with a clear error for missing, pickled or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    refuse_pickle(path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({e}); "
                              "delete it (or its checkpoint directory) and resume from an earlier one") from None


def save_module(module: nn.Module, path: str | Path) -> None:
    """Save ``module``'s weights atomically (tied/shared tensors stored once)."""
    with atomic_path(path) as tmp:
        save_model(module, str(tmp))


def load_module(module: nn.Module, path: str | Path, *, strict: bool = True) -> None:
    """Load weights saved by :func:`save_module` into ``module`` (shapes and names checked)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    refuse_pickle(path)
    try:
        missing, unexpected = load_model(module, str(path), strict=False)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({e}); "
                              "delete it (or its checkpoint directory) and resume from an earlier one") from None
    except RuntimeError as e:  # size mismatch from load_state_dict
        raise CheckpointError(f"{path}: weights do not fit this model: {str(e).splitlines()[-1].strip()} "
                              "(was the checkpoint written with another configuration?)") from None
    if strict and (missing or unexpected):
        raise CheckpointError(f"{path}: missing tensors {sorted(missing)[:5]}, unexpected tensors "
                              f"{sorted(unexpected)[:5]}; the checkpoint belongs to another model")


def _optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            name = f"state.{idx}.{key}"
            if torch.is_tensor(value):
                tensors[name] = value.detach().cpu().contiguous()
            else:
                scalars[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_from_flat(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in list(tensors.items()) + list(meta["scalars"].items()):
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    try:
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"optimizer state does not fit this model ({e}); "
                              "the checkpoint belongs to another configuration") from None


def save_checkpoint(run_dir: Path, step: int, module: nn.Module, optimizer: torch.optim.Optimizer,
                    trainer_state: dict[str, Any], config: dict[str, Any], keep: int = 2,
                    protect: Path | None = None) -> Path:
    """Write ``checkpoint-{step}`` as a whole, point ``latest`` at it, prune old ones.

    The ``keep`` newest are kept, and ``protect`` (the last one known to be good) as well.
    """
    name = f"checkpoint-{step:06d}"
    target = run_dir / name
    opt_tensors, opt_meta = _optimizer_to_flat(optimizer)
    with atomic_dir(target) as tmp:
        save_model(module, str(tmp / "model.safetensors"))
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
        files = {name: file_sha256(tmp / name) for name in CHECKSUMMED}
        (tmp / "trainer_state.json").write_text(json.dumps({**trainer_state, "optimizer": opt_meta,
                                                            "sha256": files}, indent=1))
    with atomic_write(run_dir / "latest") as f:
        f.write(name + "\n")
    for old in list_checkpoints(run_dir)[:-keep]:
        if protect is None or old.resolve() != protect.resolve():
            shutil.rmtree(old, ignore_errors=True)
    return target


def set_aside_checkpoint(run_dir: Path, ckpt: Path, good: Path | None) -> Path:
    """Rename a checkpoint whose weights diverged to ``NAME.diverged`` and point ``latest`` at ``good``.

    The renamed directory is never resumed from (its name is no ``checkpoint-N``); without a good
    checkpoint ``latest`` is removed, so ``--resume`` starts afresh.
    """
    aside = ckpt.with_name(ckpt.name + ".diverged")
    if aside.exists():
        shutil.rmtree(aside)
    if ckpt.is_dir():
        os.replace(ckpt, aside)
    if good is not None:
        with atomic_write(run_dir / "latest") as f:
            f.write(good.name + "\n")
    else:
        (run_dir / "latest").unlink(missing_ok=True)
    return aside


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint directories of a run, oldest first."""
    if not run_dir.is_dir():
        return []
    steps = {p: m for p in run_dir.iterdir() if p.is_dir() and (m := CHECKPOINT_RE.match(p.name))}
    return sorted(steps, key=lambda p: int(steps[p].group(1)))


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint ``latest`` names, else the newest complete ``checkpoint-*`` directory."""
    pointer = run_dir / "latest"
    if pointer.is_file():
        candidate = run_dir / pointer.read_text().strip()
        if candidate.is_dir():
            return candidate
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def read_checkpoint_json(ckpt: Path, name: str) -> dict[str, Any]:
    """Read ``ckpt/name`` (``trainer_state.json`` or ``config.json``), naming the file and the fix on failure."""
    path = ckpt / name
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; the checkpoint is incomplete — delete {ckpt} "
                              "to resume from an earlier one") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt JSON ({e}); delete {ckpt} to resume from an earlier one") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, found a {type(data).__name__}; the file was "
                              f"not written by reprlab — delete {ckpt} to resume from an earlier one")
    return data


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _check_state(ckpt: Path, state: dict[str, Any]) -> None:
    """Raise :class:`CheckpointError` naming the field when ``trainer_state.json`` has the wrong shape."""
    def field(name: str, ok: bool, want: str) -> None:
        if not ok:
            got = repr(state[name])[:40] if name in state else "missing"
            raise CheckpointError(f"{ckpt / 'trainer_state.json'}: field {name!r} is {got}, expected {want}; "
                                  f"the file was not written by reprlab — delete {ckpt} to resume from an "
                                  "earlier one")

    for name in ("step", "epoch", "samples_in_epoch"):
        value = state.get(name)
        field(name, isinstance(value, int) and not isinstance(value, bool) and value >= 0, "an integer >= 0")
    rngs = state.get("rng")
    field("rng", isinstance(rngs, list) and bool(rngs) and all(
        isinstance(r, dict) and {"python", "numpy", "torch"} <= r.keys() for r in rngs),
        "a list of RNG states (python, numpy, torch), one per process")
    opt = state.get("optimizer")
    field("optimizer", isinstance(opt, dict) and isinstance(opt.get("param_groups"), list)
          and isinstance(opt.get("scalars"), dict), "an object with param_groups and scalars")
    sums = state.get("sha256", {})
    field("sha256", isinstance(sums, dict), "an object of file checksums")


def open_checkpoint(ckpt: Path) -> dict[str, Any]:
    """``ckpt``'s trainer state, after checking its shape and every file's SHA-256.

    A flipped byte or a partial copy of a file is a :class:`CheckpointError` naming that file
    (checkpoints written before checksums were stored are read unverified).
    """
    state = read_checkpoint_json(ckpt, "trainer_state.json")
    _check_state(ckpt, state)
    for name, digest in state.get("sha256", {}).items():
        path = ckpt / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing; the checkpoint is incomplete — delete {ckpt} "
                                  "to resume from an earlier one")
        if file_sha256(path) != digest:
            raise CheckpointError(f"{path}: checksum mismatch (the file changed after it was written: a "
                                  f"flipped bit, a partial copy or an edit); delete {ckpt} to resume from an "
                                  "earlier one")
    return state


def load_checkpoint(ckpt: Path, module: nn.Module, optimizer: torch.optim.Optimizer,
                    state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Restore weights and optimizer state from ``ckpt``; return the trainer state dict.

    ``state`` is :func:`open_checkpoint`'s result when the caller has it already.
    """
    state = state if state is not None else open_checkpoint(ckpt)
    load_module(module, ckpt / "model.safetensors")
    _optimizer_from_flat(optimizer, load_tensors(ckpt / "optimizer.safetensors"), state["optimizer"])
    return state


def config_mismatch(saved: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of fields that differ between two nested config dicts."""
    diffs = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += config_mismatch(a, b, f"{prefix}{key}.")
        elif a != b and not (isinstance(a, list) and isinstance(b, tuple) and a == list(b)):
            diffs.append(f"{prefix}{key} (checkpoint {a!r}, now {b!r})")
    return diffs


__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "list_checkpoints",
           "save_module", "load_module", "load_tensors", "refuse_pickle", "config_mismatch",
           "set_aside_checkpoint", "open_checkpoint", "file_sha256",
           "write_json"]
