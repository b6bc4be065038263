"""Subprocess entry for the 2-vs-1-process and kill/resume tests: train one of reprlab's objectives.

usage: python run_objective.py OBJECTIVE OUT_DIR MAX_STEPS [--batch B] [--optimizer NAME]
       [--save-every N] [--kill-after SECONDS] [--resume] [--noise P]       (or under torchrun)
OBJECTIVE: imax | imax-gaussian | contrastive | cpc | agreement | simclr | autoencoder | vae | rbm

``--kill-after`` SIGKILLs the process that many seconds after training began (wherever it is:
mid-step, mid-checkpoint); the time training took is written to OUT_DIR/seconds.
"""

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from reprlab.data import ArrayDataset, load_dataset  # noqa: E402
from reprlab.train import TrainConfig, Trainer  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("objective")
p.add_argument("out")
p.add_argument("max_steps", type=int)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--optimizer", default="sgd")
p.add_argument("--save-every", type=int)
p.add_argument("--kill-after", type=float)
p.add_argument("--resume", action="store_true")
p.add_argument("--noise", type=float, default=0.0, help="autoencoder: masking noise")
a = p.parse_args()
torch.set_num_threads(1)
torch.manual_seed(0)


def build():
    from reprlab.coherence.stereograms import StereogramConfig, random_dot_stereograms

    stereo = StereogramConfig(n_patches=3, patch_width=10)
    if a.objective in ("imax", "imax-gaussian", "contrastive"):
        from reprlab.coherence.contrastive import ContrastiveCoherenceConfig, ContrastiveCoherenceObjective
        from reprlab.coherence.imax import IMAXConfig, IMAXObjective

        data = random_dot_stereograms(64, stereo, seed=0).dataset()
        if a.objective == "contrastive":
            return ContrastiveCoherenceObjective(ContrastiveCoherenceConfig(channels=4, kernel=3), 3, 1, 10), data
        form = "gaussian" if a.objective == "imax-gaussian" else "imax"
        return IMAXObjective(IMAXConfig(channels=4, kernel=3, out_dim=2 if form == "gaussian" else 1,
                                        form=form), 3, 1, 10), data
    if a.objective == "cpc":
        from reprlab.coherence.cpc import CPCConfig, CPCObjective, slow_factor_signals

        x, f = slow_factor_signals(64, 64, seed=0)
        return CPCObjective(CPCConfig(latent_dim=8, context_dim=8, predict_steps=2)), ArrayDataset(x, f)
    digits = load_dataset("digits", "train").head(64)
    if a.objective == "agreement":
        from reprlab.coherence.agreement import AgreementConfig, AgreementObjective

        return AgreementObjective(AgreementConfig(widths=(8,), hidden=8), (1, 8, 8)), digits
    if a.objective == "simclr":
        from reprlab.vision.contrastive.simclr import SimCLRConfig, SimCLRObjective

        return SimCLRObjective(SimCLRConfig(width=4, proj_hidden=8, proj_dim=4, num_classes=0)), digits
    if a.objective == "vae":
        from reprlab.vision.generative.vae import VAEConfig, VAEObjective

        return VAEObjective(VAEConfig(input_dim=64, hidden=(16,), latent_dim=2)), digits
    if a.objective == "rbm":
        from reprlab.vision.generative.rbm import RBMConfig, RBMObjective

        binary = ArrayDataset((digits.x.flatten(1) > 0.5).float(), digits.y)
        return RBMObjective(RBMConfig(n_visible=64, n_hidden=16, persistent=True, n_chains=16)), binary
    from reprlab.vision.generative.autoencoder import AutoencoderConfig, AutoencoderObjective

    # --noise: the masking draws from the torch RNG, which a resume must restore
    return AutoencoderObjective(AutoencoderConfig(input_dim=64, hidden=(16,), code_dim=4, noise=a.noise)), digits


objective, data = build()
cfg = TrainConfig(output_dir=a.out, max_steps=a.max_steps, batch_size=a.batch, optimizer=a.optimizer, lr=1e-2,
                  weight_decay=0.0, save_every=a.save_every, log_every=1, progress=False, device="cpu",
                  resume=a.resume, keep_checkpoints=1)
if a.kill_after is not None:
    threading.Timer(a.kill_after, os.kill, (os.getpid(), signal.SIGKILL)).start()
t0 = time.perf_counter()
Trainer(objective, cfg, data).fit()
(Path(a.out) / "seconds").write_text(f"{time.perf_counter() - t0}\n")
os._exit(0)  # a pending kill timer must not keep the process alive
