"""``reprlab demo``: the end-to-end tour on bundled data, in a few minutes on a laptop CPU.

Each domain's command module may define ``demo(out_dir: Path) -> str``; the demo runs them in the
order of :data:`reprlab.cli.main.COMMAND_MODULES` and prints their one-line summaries.
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable
from pathlib import Path


def trainer_demo(out_dir: Path) -> str:
    """The shared Trainer on a closed-form task: a linear autoencoder on digits must reach PCA's error."""
    import torch
    from sklearn.decomposition import PCA

    from reprlab.data import load_dataset
    from reprlab.train import LossOutput, Objective, TrainConfig, Trainer

    data = load_dataset("digits")
    x = data.x.flatten(1)
    mean = x.mean(0)

    class LinearAE(Objective):
        def __init__(self, d: int, k: int):
            super().__init__()
            self.enc, self.dec = torch.nn.Linear(d, k), torch.nn.Linear(k, d)

        def forward(self, batch):
            xb = batch[0].flatten(1) - mean
            err = ((self.dec(self.enc(xb)) - xb) ** 2).sum(1).mean()
            return LossOutput(err)

    cfg = TrainConfig(output_dir=str(out_dir / "trainer"), max_steps=1500, batch_size=128, lr=3e-3,
                      weight_decay=0.0, schedule="cosine", warmup_steps=50, save_every=None,
                      progress=False, log_every=100)
    torch.manual_seed(0)
    model = LinearAE(x.shape[1], 8)
    Trainer(model, cfg, data).fit()
    with torch.no_grad():
        ours = float(((model.dec(model.enc(x - mean)) - (x - mean)) ** 2).sum(1).mean())
    pca = PCA(8).fit(x.numpy())
    best = float(((pca.inverse_transform(pca.transform(x.numpy())) - x.numpy()) ** 2).sum(1).mean())
    return f"trainer: linear AE (8-d) on digits, squared error {ours:.3f} vs PCA optimum {best:.3f}"


# The demo's steps in the order they run: a name and the command module whose ``demo()`` it calls.
STEPS = {"trainer": "reprlab.cli.demo", "tokenizers": "reprlab.tokenizers.cli", "text": "reprlab.text.cli",
         "pretrain": "reprlab.pretrain.cli", "vision": "reprlab.vision.cli", "coherence": "reprlab.coherence.cli", "embed": "reprlab.embed.cli"}


def _step(module: str) -> Callable[[Path], str]:
    if module == __name__:
        return trainer_demo
    fn: Callable[[Path], str] = importlib.import_module(module).demo
    return fn


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = [(name, _step(module)) for name, module in STEPS.items() if not args.only or name in args.only]
    summary = []
    for _name, fn in steps:
        t0 = time.perf_counter()
        line = fn(out_dir)
        stamp = f"[{time.perf_counter() - t0:6.1f}s] "
        summary.append(stamp + line.replace("\n", "\n" + " " * len(stamp)))  # a step may report several lines
        print(summary[-1], flush=True)
    (out_dir / "summary.txt").write_text("\n".join(summary) + "\n")
    print(f"demo outputs in {out_dir}/")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end-to-end tour on bundled data (writes figures and a summary)")
    p.add_argument("-o", "--output", default="demo-output", help="output directory")
    p.add_argument("--only", nargs="+", choices=list(STEPS), metavar="STEP",
                   help=f"run only these steps, of: {' '.join(STEPS)}")
    p.set_defaults(handler=run)
