"""The CLI's shape (every verb has --help) and the benchmark harness's table handling."""

import subprocess
import sys
from pathlib import Path

import pytest

from reprlab.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _subcommands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield prefix + (name,)
                yield from _subcommands(sub, prefix + (name,))


def test_every_command_has_help(capsys):
    commands = list(_subcommands(build_parser()))
    assert ("info",) in commands and ("demo",) in commands and ("config", "show") in commands
    for cmd in commands:
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--help"])
        assert e.value.code == 0, cmd
        assert "usage: reprlab" in capsys.readouterr().out


def test_info_lists_versions_and_data(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("reprlab", "torch", "device (auto)", "torch threads", "data: fashion-mnist", "openTSNE"):
        assert key in out


def test_console_script_entry_point():
    exe = Path(sys.executable).with_name("reprlab")
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("reprlab ")


def test_harness_upserts_rows(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from harness import compare, write_rows
    finally:
        sys.path.pop(0)
    table = tmp_path / "bench.md"
    table.write_text("# B\n\nintro\n\n<!-- results:begin -->\n<!-- results:end -->\n\nfooter\n")
    row = compare("demo", "sum", ours=lambda: sum(range(1000)), reference=lambda: sum(range(2000)),
                  reference_name="builtin", repeats=3, quality=lambda a, b: f"{a} vs {b}", command="x")
    assert row.ratio is not None and 0 < row.ratio < 10 and row.quality == "499500 vs 1999000"
    write_rows([row], table)
    write_rows([row], table)  # same key: replaced, not duplicated
    text = table.read_text()
    assert text.count("| demo | sum |") == 1 and text.endswith("footer\n") and "intro" in text


def test_trainer_linear_autoencoder_reaches_the_pca_optimum(tmp_path):
    """The shared Trainer on a closed-form task: a linear autoencoder on digits must reach PCA's error
    (PCA is the optimum of a linear autoencoder, Baldi & Hornik 1989). Formerly the demo's first step."""
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
            return LossOutput(((self.dec(self.enc(xb)) - xb) ** 2).sum(1).mean())

    cfg = TrainConfig(output_dir=str(tmp_path / "trainer"), max_steps=1500, batch_size=128, lr=3e-3,
                      weight_decay=0.0, schedule="cosine", warmup_steps=50, save_every=None,
                      progress=False, log_every=100)
    torch.manual_seed(0)
    model = LinearAE(x.shape[1], 8)
    Trainer(model, cfg, data).fit()
    with torch.no_grad():
        ours = float(((model.dec(model.enc(x - mean)) - (x - mean)) ** 2).sum(1).mean())
    pca = PCA(8).fit(x.numpy())
    best = float(((pca.inverse_transform(pca.transform(x.numpy())) - x.numpy()) ** 2).sum(1).mean())
    assert best <= ours < 1.05 * best
    assert (tmp_path / "trainer" / "model.safetensors").is_file()
    assert (tmp_path / "trainer" / "report.html").is_file()  # every training run ends with its report


RUN_VERBS = [  # every verb that builds a run config from the command line, and that config
    (("autoencoder", "train"), "reprlab.vision.generative.runs", "AutoencoderRunConfig"),
    (("autoencoder", "compare-init"), "reprlab.vision.generative.runs", "InitComparisonRunConfig"),
    (("rbm", "train"), "reprlab.vision.generative.runs", "RBMRunConfig"),
    (("vae", "train"), "reprlab.vision.generative.runs", "VAERunConfig"),
    (("simclr", "train"), "reprlab.vision.contrastive.runs", "SimCLRRunConfig"),
    (("imax", "train"), "reprlab.coherence.runs", "IMAXRunConfig"),
    (("cpc", "train"), "reprlab.coherence.runs", "CPCRunConfig"),
    (("agreement",), "reprlab.coherence.runs", "AgreementRunConfig"),
]


@pytest.mark.parametrize("verb, module, name", RUN_VERBS, ids=[" ".join(v[0]) for v in RUN_VERBS])
def test_output_and_set_change_only_what_they_name(verb, module, name, tmp_path):
    """The run's own defaults (SimCLR's LARS and batch 256, say) survive -o and --set train.lr."""
    import dataclasses
    import importlib

    from reprlab.cli.common import run_config_from_args

    cls = getattr(importlib.import_module(module), name)
    args = build_parser().parse_args([*verb, "-o", str(tmp_path / "run"), "--set", "train.lr=0.125"])
    got = run_config_from_args(cls, args)
    want = cls()
    want = dataclasses.replace(want, train=dataclasses.replace(want.train, output_dir=str(tmp_path / "run"), lr=0.125))
    assert got == want
