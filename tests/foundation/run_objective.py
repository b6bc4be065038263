"""Subprocess entry for the 2-vs-1-process and kill/resume tests: train some of reprlab's objectives.

usage: python run_objective.py OBJECTIVES OUT_DIR MAX_STEPS [--batch B] [--optimizer NAME]
       [--save-every N] [--kill-after SECONDS] [--resume] [--noise P]       (or under torchrun)
OBJECTIVES: one or more of imax | imax-gaussian | contrastive | cpc | agreement | simclr | autoencoder |
vae | rbm, separated by commas; each is seeded alike and trained in turn into OUT_DIR/NAME, so that one
process (one torchrun launch) serves the checks of several objectives instead of paying the start-up
(torch and torch._dynamo imports, ~5 s) once per objective.

``--kill-after`` (one objective only) SIGKILLs the process that many seconds after training began
(after the optimizer is built and any resume is loaded; wherever it then is: mid-step, mid-checkpoint);
the time training took, from that same moment, is written to OUT_DIR/NAME/seconds.
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
from reprlab.train import LambdaCallback, TrainConfig, Trainer  # noqa: E402

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
names = a.objective.split(",")
if a.kill_after is not None and len(names) > 1:
    sys.exit("--kill-after kills the process: give one objective")
torch.set_num_threads(1)


def build(name: str):
    from reprlab.coherence.stereograms import StereogramConfig, random_dot_stereograms

    stereo = StereogramConfig(n_patches=3, patch_width=10)
    if name in ("imax", "imax-gaussian", "contrastive"):
        from reprlab.coherence.contrastive import ContrastiveCoherenceConfig, ContrastiveCoherenceObjective
        from reprlab.coherence.imax import IMAXConfig, IMAXObjective

        data = random_dot_stereograms(64, stereo, seed=0).dataset()
        if name == "contrastive":
            return ContrastiveCoherenceObjective(ContrastiveCoherenceConfig(channels=4, kernel=3), 3, 1, 10), data
        form = "gaussian" if name == "imax-gaussian" else "imax"
        return IMAXObjective(IMAXConfig(channels=4, kernel=3, out_dim=2 if form == "gaussian" else 1,
                                        form=form), 3, 1, 10), data
    if name == "cpc":
        from reprlab.coherence.cpc import CPCConfig, CPCObjective, slow_factor_signals

        x, f = slow_factor_signals(64, 64, seed=0)
        return CPCObjective(CPCConfig(latent_dim=8, context_dim=8, predict_steps=2)), ArrayDataset(x, f)
    digits = load_dataset("digits", "train").head(64)
    if name == "agreement":
        from reprlab.coherence.agreement import AgreementConfig, AgreementObjective

        return AgreementObjective(AgreementConfig(widths=(8,), hidden=8), (1, 8, 8)), digits
    if name == "simclr":
        from reprlab.vision.contrastive.simclr import SimCLRConfig, SimCLRObjective

        return SimCLRObjective(SimCLRConfig(width=4, proj_hidden=8, proj_dim=4, num_classes=0)), digits
    if name == "vae":
        from reprlab.vision.generative.vae import VAEConfig, VAEObjective

        return VAEObjective(VAEConfig(input_dim=64, hidden=(16,), latent_dim=2)), digits
    if name == "rbm":
        from reprlab.vision.generative.rbm import RBMConfig, RBMObjective

        binary = ArrayDataset((digits.x.flatten(1) > 0.5).float(), digits.y)
        return RBMObjective(RBMConfig(n_visible=64, n_hidden=16, persistent=True, n_chains=16)), binary
    from reprlab.vision.generative.autoencoder import AutoencoderConfig, AutoencoderObjective

    # --noise: the masking draws from the torch RNG, which a resume must restore
    return AutoencoderObjective(AutoencoderConfig(input_dim=64, hidden=(16,), code_dim=4, noise=a.noise)), digits


def train(name: str) -> None:
    torch.manual_seed(0)
    objective, data = build(name)
    out = Path(a.out) / name
    cfg = TrainConfig(output_dir=str(out), max_steps=a.max_steps, batch_size=a.batch, optimizer=a.optimizer,
                      lr=1e-2, weight_decay=0.0, save_every=a.save_every, log_every=1, progress=False,
                      device="cpu", resume=a.resume, keep_checkpoints=1)
    began = [time.perf_counter()]

    def begin(trainer):
        began[0] = time.perf_counter()
        if a.kill_after is not None:
            threading.Timer(a.kill_after, os.kill, (os.getpid(), signal.SIGKILL)).start()

    Trainer(objective, cfg, data, callbacks=[LambdaCallback(on_train_begin=begin)]).fit()
    if os.environ.get("RANK", "0") == "0":
        (out / "seconds").write_text(f"{time.perf_counter() - began[0]}\n")


for n in names:
    train(n)
os._exit(0)  # a pending kill timer must not keep the process alive
