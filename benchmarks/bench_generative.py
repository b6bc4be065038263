"""RBM and VAE epoch time against straightforward reference implementations.

* RBM: one epoch of PCD-1 (784-256, batch 100, lr 0.05, no momentum/decay) through reprlab's
  Trainer vs scikit-learn's ``BernoulliRBM`` (``n_iter=1``), which runs the same algorithm (PCD
  with one Gibbs step, persistent chains of batch size). Quality: AIS test log-likelihood of both
  models, each loaded into :class:`reprlab.vision.generative.rbm.RBM`.
* VAE: one epoch of a 784-400-20 VAE (Adam 1e-3, batch 100) through the Trainer vs the plain
  PyTorch loop of the official ``pytorch/examples`` VAE (written out below). Quality: final ELBO.

Data: the first 10,000 Fashion-MNIST training images (sklearn digits when absent). Both sides run
on one thread (torch and BLAS).
Run: ``python benchmarks/bench_generative.py`` (writes rows into docs/benchmarks.md).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from reprlab.data import ArrayDataset, load_dataset  # noqa: E402
from reprlab.errors import MissingDataError  # noqa: E402
from reprlab.train import TrainConfig, Trainer  # noqa: E402
from reprlab.vision.generative.ais import ais_log_partition, average_log_likelihood  # noqa: E402
from reprlab.vision.generative.rbm import RBM, RBMConfig, RBMObjective  # noqa: E402
from reprlab.vision.generative.vae import VAEConfig, VAEObjective  # noqa: E402

from harness import compare, write_rows  # noqa: E402

N_TRAIN, BATCH, HIDDEN = 10_000, 100, 256


def load() -> tuple[torch.Tensor, torch.Tensor, str]:
    try:
        train, test = load_dataset("fashion-mnist"), load_dataset("fashion-mnist", "test")
        name = "Fashion-MNIST"
    except MissingDataError:
        train, test = load_dataset("digits"), load_dataset("digits", "test")
        name = "digits"
    return train.x[:N_TRAIN].flatten(1), test.x[:2000].flatten(1), name


def rbm_case(x: torch.Tensor, x_test: torch.Tensor, name: str):
    from sklearn.neural_network import BernoulliRBM

    xb, xb_test = (x > 0.5).float(), (x_test > 0.5).float()
    runs = Path(tempfile.mkdtemp(prefix="bench_rbm_"))
    state: dict = {}

    def ours():
        shutil.rmtree(runs / "ours", ignore_errors=True)
        obj = RBMObjective(RBMConfig(n_visible=x.shape[1], n_hidden=HIDDEN, persistent=True,
                                     n_chains=BATCH, k=1, init_std=0.01))
        cfg = TrainConfig(output_dir=str(runs / "ours"), optimizer="sgd", lr=0.05, momentum=0.0,
                          weight_decay=0.0, max_grad_norm=None, batch_size=BATCH,
                          max_steps=len(xb) // BATCH, save_every=None, progress=False, log_every=50)
        Trainer(obj, cfg, ArrayDataset(xb, torch.zeros(len(xb), dtype=torch.long))).fit()
        state["ours"] = obj.rbm
        return obj.rbm

    def reference():
        rbm = BernoulliRBM(n_components=HIDDEN, learning_rate=0.05, batch_size=BATCH, n_iter=1,
                           random_state=0).fit(xb.numpy())
        state["ref"] = rbm
        return rbm

    def quality(_a, _b) -> str:
        ref = state["ref"]
        theirs = RBM(RBMConfig(n_visible=x.shape[1], n_hidden=HIDDEN))
        with torch.no_grad():
            theirs.W.copy_(torch.from_numpy(ref.components_.T.astype(np.float32)))
            theirs.b.copy_(torch.from_numpy(ref.intercept_visible_.astype(np.float32)))
            theirs.c.copy_(torch.from_numpy(ref.intercept_hidden_.astype(np.float32)))
        lls = []
        for model in (state["ours"], theirs):  # two independent AIS runs each: their spread is the noise
            lls.append([average_log_likelihood(model, xb_test, ais_log_partition(
                model, n_chains=100, n_steps=3000, data=xb, generator=torch.Generator().manual_seed(seed)).log_z)
                for seed in (0, 1)])
        return (f"AIS test log p(v) after 1 epoch (2 AIS runs): ours {lls[0][0]:.1f} / {lls[0][1]:.1f}, "
                f"sklearn {lls[1][0]:.1f} / {lls[1][1]:.1f} nats ({name}, binarised)")

    row = compare("generative", f"RBM PCD-1 epoch, {len(xb)}x{x.shape[1]}, {HIDDEN} hidden", ours, reference,
                  reference_name="sklearn BernoulliRBM (n_iter=1)", repeats=3, quality=quality)
    shutil.rmtree(runs, ignore_errors=True)
    return row


class ReferenceVAE(nn.Module):
    """The pytorch/examples MNIST VAE (784-400-20), as a straightforward reference."""

    def __init__(self, d: int):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(d, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, d)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def vae_case(x: torch.Tensor, name: str):
    runs = Path(tempfile.mkdtemp(prefix="bench_vae_"))
    steps = len(x) // BATCH

    def ours():
        shutil.rmtree(runs / "ours", ignore_errors=True)
        torch.manual_seed(0)
        obj = VAEObjective(VAEConfig(input_dim=x.shape[1], hidden=(400,), latent_dim=20))
        cfg = TrainConfig(output_dir=str(runs / "ours"), optimizer="adam", lr=1e-3, weight_decay=0.0,
                          max_grad_norm=None, batch_size=BATCH, max_steps=steps, save_every=None,
                          progress=False, log_every=steps)
        result = Trainer(obj, cfg, ArrayDataset(x, torch.zeros(len(x), dtype=torch.long))).fit()
        return result.last_logs["elbo"]

    def reference():
        torch.manual_seed(0)
        model = ReferenceVAE(x.shape[1])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        perm = torch.randperm(len(x))
        total = 0.0
        for i in range(steps):
            xb = x[perm[i * BATCH:(i + 1) * BATCH]]
            logits, mu, logvar = model(xb)
            bce = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (bce + kld) / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        return -total / steps

    row = compare("generative", f"VAE epoch, {len(x)}x{x.shape[1]}, 784-400-20", ours, reference,
                  reference_name="plain PyTorch loop (pytorch/examples VAE)", repeats=3,
                  quality=lambda a, b: f"train ELBO (epoch mean): ours {a:.1f}, reference {b:.1f} nats ({name})")
    shutil.rmtree(runs, ignore_errors=True)
    return row


def main(argv: list[str] | None = None) -> None:
    import argparse

    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("rbm", "vae"), help="run one case")
    args = parser.parse_args(argv)
    # One thread for torch and for NumPy's BLAS alike: a like-for-like comparison that does not
    # depend on how many other jobs share the (2-core) machine.
    torch.set_num_threads(1)
    x, x_test, name = load()
    with threadpool_limits(limits=1):
        rows = ([rbm_case(x, x_test, name)] if args.only != "vae" else []) + \
            ([vae_case(x, name)] if args.only != "rbm" else [])
        write_rows(rows)


if __name__ == "__main__":
    main()
