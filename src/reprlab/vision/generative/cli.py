"""``reprlab autoencoder|rbm|vae``: reconstruction and generative models (registered by reprlab.vision.cli).

Every command takes ``--data``, ``--config FILE.toml``, ``--set key=value``, ``--device``, ``-o DIR``
and ``--resume``, builds its run config and calls its run in :mod:`reprlab.vision.generative.runs`,
which writes the run directory: ``config.json``, ``metrics.jsonl``, ``checkpoint-*/``,
``model.safetensors``, ``evaluation.json`` and PNG figures. Heavy imports stay inside handlers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from reprlab.cli.common import add_config_args, build_config, command_group


def _run(args: argparse.Namespace, run: Callable) -> int:
    """Build the verb's run config from the command line, call ``run`` on it, print its summary."""
    result = run(build_config(args))
    print(result.summary())
    print(f"evaluation.json and figures in {result.run_dir}/")
    return 0


def _autoencoder_train(args: argparse.Namespace) -> int:
    from reprlab.vision.generative.runs import run_autoencoder

    return _run(args, run_autoencoder)


def _autoencoder_compare_init(args: argparse.Namespace) -> int:
    from reprlab.vision.generative.runs import run_init_comparison

    return _run(args, run_init_comparison)


def _rbm_train(args: argparse.Namespace) -> int:
    from reprlab.vision.generative.runs import run_rbm

    return _run(args, run_rbm)


def _vae_train(args: argparse.Namespace) -> int:
    from reprlab.vision.generative.runs import run_vae

    return _run(args, run_vae)


def _add(group: argparse._SubParsersAction, name: str, help_: str, handler, config: str, epilog: str) -> None:
    p = group.add_parser(name, help=help_, description=help_, epilog=epilog,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p, config=f"reprlab.vision.generative.runs:{config}",
                    data="digits | fashion-mnist | mnist | DIR of IDX files or class folders")
    p.set_defaults(handler=handler)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``autoencoder``, ``rbm`` and ``vae`` with their verbs."""
    ae_sub = command_group(sub, "autoencoder", "deep autoencoders vs PCA (Hinton & Salakhutdinov 2006)")
    _add(ae_sub, "train", "train a deep autoencoder (optionally DBN/stacked-AE pretrained) and compare "
         "with PCA", _autoencoder_train, "AutoencoderRunConfig",
         "example:\n  reprlab autoencoder train --data fashion-mnist -o runs/ae --set train.max_steps=2350\n"
         "  reprlab autoencoder train --set pretrain=dbn --set pretrain_train.max_steps=2000")
    _add(ae_sub, "compare-init", "sigmoid + small init vs ReLU + He init (and more) on one plot",
         _autoencoder_compare_init, "InitComparisonRunConfig",
         "example:\n  reprlab autoencoder compare-init --data fashion-mnist -o runs/ae-init\n"
         "  --set 'variants=[\"sigmoid:small_gaussian\", \"relu:kaiming\"]'")
    rbm_sub = command_group(sub, "rbm", "RBMs by CD-k/PCD with AIS log-likelihood; greedy DBN stacks")
    _add(rbm_sub, "train", "train an RBM (or a DBN with --set widths=[...]) and report nats by AIS",
         _rbm_train, "RBMRunConfig",
         "example:\n  reprlab rbm train --data fashion-mnist --set model.n_hidden=500 --set model.persistent=true\n"
         "  reprlab rbm train --set 'widths=[64, 100, 100]'   # bound per added layer")
    vae_sub = command_group(sub, "vae", "variational autoencoder with ELBO and IWAE (Kingma & Welling 2013)")
    _add(vae_sub, "train", "train a VAE; test ELBO and IWAE log-likelihood; samples and latent maps",
         _vae_train, "VAERunConfig",
         "example:\n  reprlab vae train --data fashion-mnist --set model.latent_dim=2 -o runs/vae2d")


def demo(out_dir: Path) -> str:
    """Digits in well under a minute: a small deep AE vs PCA (10-d codes) and a tiny RBM with AIS."""
    from reprlab.vision.generative.runs import demo as run_demo

    return run_demo(out_dir)
