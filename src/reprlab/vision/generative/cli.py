"""``reprlab autoencoder|rbm|vae``: reconstruction and generative models (registered by reprlab.vision.cli).

Every command takes ``--config FILE.toml``, ``--set key=value``, ``--device``, ``-o DIR`` and
``--resume`` and writes a run directory: ``config.json``, ``metrics.jsonl``, ``checkpoint-*/``,
``model.safetensors``, ``evaluation.json`` and PNG figures. Heavy imports stay inside handlers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reprlab.cli.common import add_config_args, command_group, config_from_args


def _data_defaults(args: argparse.Namespace, run_cls: type, run_dir: str) -> dict:
    """The run config's own defaults (so nested ``train`` keeps them) with a default run directory.

    ``--data`` becomes an override, so it wins over a ``--config`` file like ``--set`` does.
    """
    import dataclasses

    defaults = dataclasses.asdict(run_cls())
    defaults["train"]["output_dir"] = run_dir
    if getattr(args, "data", None):
        args.overrides.append(f"data={args.data!r}")
    return defaults


def _print(evaluation: dict, out_dir: str) -> None:
    print(json.dumps(evaluation, indent=1, sort_keys=True))
    print(f"run directory: {out_dir}")


def _runner(run_cls_name: str, run_fn_name: str, run_dir: str):
    """A CLI handler: build the run config named ``run_cls_name``, call ``run_fn_name``, print the result."""
    def handler(args: argparse.Namespace) -> int:
        from reprlab.vision.generative import runs as generative_runs

        run_cls = getattr(generative_runs, run_cls_name)
        cfg = config_from_args(run_cls, args, _data_defaults(args, run_cls, run_dir))
        _print(getattr(generative_runs, run_fn_name)(cfg), cfg.train.output_dir)
        return 0
    return handler


_autoencoder_train = _runner("AutoencoderRun", "run_autoencoder", "runs/autoencoder")
_autoencoder_compare_init = _runner("InitComparisonRun", "run_init_comparison", "runs/autoencoder-init")
_rbm_train = _runner("RBMRun", "run_rbm", "runs/rbm")
_vae_train = _runner("VAERun", "run_vae", "runs/vae")


def _add(group: argparse._SubParsersAction, name: str, help_: str, handler, epilog: str) -> None:
    p = group.add_parser(name, help=help_, description=help_, epilog=epilog,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="digits | fashion-mnist | mnist | DIR of IDX files (sets data)")
    add_config_args(p)
    p.set_defaults(handler=handler)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``autoencoder``, ``rbm`` and ``vae`` with their verbs."""
    ae_sub = command_group(sub, "autoencoder", "deep autoencoders vs PCA (Hinton & Salakhutdinov 2006)")
    _add(ae_sub, "train", "train a deep autoencoder (optionally DBN/stacked-AE pretrained) and compare "
         "with PCA", _autoencoder_train,
         "example:\n  reprlab autoencoder train --data fashion-mnist -o runs/ae --set train.max_steps=2350\n"
         "  reprlab autoencoder train --set pretrain=dbn --set pretrain_train.max_steps=2000")
    _add(ae_sub, "compare-init", "sigmoid + small init vs ReLU + He init (and more) on one plot",
         _autoencoder_compare_init,
         "example:\n  reprlab autoencoder compare-init --data fashion-mnist -o runs/ae-init\n"
         "  --set 'variants=[\"sigmoid:small_gaussian\", \"relu:kaiming\"]'")
    rbm_sub = command_group(sub, "rbm", "RBMs by CD-k/PCD with AIS log-likelihood; greedy DBN stacks")
    _add(rbm_sub, "train", "train an RBM (or a DBN with --set widths=[...]) and report nats by AIS",
         _rbm_train,
         "example:\n  reprlab rbm train --data fashion-mnist --set model.n_hidden=500 --set model.persistent=true\n"
         "  reprlab rbm train --set 'widths=[64, 100, 100]'   # bound per added layer")
    vae_sub = command_group(sub, "vae", "variational autoencoder with ELBO and IWAE (Kingma & Welling 2013)")
    _add(vae_sub, "train", "train a VAE; test ELBO and IWAE log-likelihood; samples and latent maps",
         _vae_train,
         "example:\n  reprlab vae train --data fashion-mnist --set model.latent_dim=2 -o runs/vae2d")


def demo(out_dir: Path) -> str:
    """Digits in well under a minute: a small deep AE vs PCA (10-d codes) and a tiny RBM with AIS."""
    from reprlab.train import torch_threads

    with torch_threads(1):  # tiny models: one thread is faster, and kinder to a shared machine
        return _demo(Path(out_dir) / "generative")


def _demo(out: Path) -> str:
    import torch

    from reprlab.data import ArrayDataset, load_dataset
    from reprlab.train import TrainConfig, Trainer
    from reprlab.vision.generative import evaluation as ev
    from reprlab.vision.generative.ais import ais_log_partition, average_log_likelihood
    from reprlab.vision.generative.autoencoder import AutoencoderConfig, AutoencoderObjective, reconstruct_dataset
    from reprlab.vision.generative.rbm import RBMConfig, RBMObjective

    train, test = load_dataset("digits"), load_dataset("digits", "test")
    torch.manual_seed(0)
    ae = AutoencoderObjective(AutoencoderConfig(input_dim=64, hidden=(128, 64), code_dim=10))
    Trainer(ae, TrainConfig(output_dir=str(out / "autoencoder"), optimizer="adam", lr=3e-3,
                            weight_decay=0.0, batch_size=64, max_steps=500, save_every=None,
                            progress=False, log_every=50), train).fit()
    recon = reconstruct_dataset(ae.model, test.x)
    pca_recon, _, _ = ev.pca_reconstruction(train.x, test.x, 10)
    err, pca_err = ev.squared_error_per_image(test.x, recon), ev.squared_error_per_image(test.x, pca_recon)
    idx = torch.arange(10)
    ev.save_image_rows({"original": test.x[idx], "PCA 10": pca_recon[idx], "deep AE 10": recon[idx]},
                       (8, 8), out / "reconstructions.png",
                       title=f"digits test: squared error per image PCA {pca_err:.2f}, deep AE {err:.2f}")
    xb, xb_test = (train.x.flatten(1) > 0.5).float(), (test.x.flatten(1) > 0.5).float()
    rbm = RBMObjective(RBMConfig(n_visible=64, n_hidden=32, persistent=True, n_chains=64, init_std=0.05))
    Trainer(rbm, TrainConfig(output_dir=str(out / "rbm"), optimizer="sgd", lr=0.05, momentum=0.9,
                             weight_decay=1e-4, max_grad_norm=None, batch_size=64, max_steps=400,
                             save_every=None, progress=False, log_every=50), ArrayDataset(xb, train.y)).fit()
    ais = ais_log_partition(rbm.rbm, n_chains=64, n_steps=1500, data=xb,
                            generator=torch.Generator().manual_seed(0))
    ll = average_log_likelihood(rbm.rbm, xb_test, ais.log_z)
    return (f"generative: digits test squared error per image, deep AE {err:.2f} vs PCA {pca_err:.2f} "
            f"(10-d codes); RBM 64-32 (PCD-1) test log p(v) {ll:.1f} nats by AIS; figures in {out}")
