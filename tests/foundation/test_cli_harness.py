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


def _parsers(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield prefix + (name,), sub
                yield from _parsers(sub, prefix + (name,))


# --set on these does not build a run config of the verb's own: ``text params`` changes the preset
# or file named on its command line; ``config show`` passes the options to the verb it shows.
NO_RUN_CONFIG = {("text", "params"), ("config", "show")}
CONFIG_VERBS = [cmd for cmd, p in _parsers(build_parser())
                if "--set" in p._option_string_actions and cmd not in NO_RUN_CONFIG]


def test_config_verbs_are_found():
    assert len(CONFIG_VERBS) >= 11 and ("simclr", "train") in CONFIG_VERBS and ("experiment", "maps") in CONFIG_VERBS


@pytest.mark.parametrize("verb", CONFIG_VERBS, ids=[" ".join(v) for v in CONFIG_VERBS])
def test_output_and_set_change_only_what_they_name(verb, tmp_path, capsys):
    """Every verb's own defaults (SimCLR's LARS and batch 256, say) survive -o and --set; config show agrees."""
    from reprlab.cli.common import build_config, config_class
    from reprlab.config import init_values

    plain = build_parser().parse_args(list(verb))
    cls = config_class(plain)
    assert cls is not None, f"'reprlab {' '.join(verb)}' takes --set but declares no config (add_config_args(config=))"
    want = init_values(build_config(plain))
    if "train" in want:
        assert want == init_values(cls()) | {"train": want["train"]}  # only the run directory may differ
        out_table = want["train"]
    else:
        out_table = want  # experiments: output_dir at top level, training tables of their own
    key = "train.lr" if "train" in want else _first_float(want)
    *parents, leaf = key.split(".")
    table = want
    for part in parents:
        table = table[part]
    assert table[leaf] != 0.125
    table[leaf], out_table["output_dir"] = 0.125, str(tmp_path / "run")
    cmd = [*verb, "-o", str(tmp_path / "run"), "--set", f"{key}=0.125"]
    got = build_config(build_parser().parse_args(cmd))
    assert init_values(got) == want

    assert main(["config", "show", *cmd]) == 0
    (tmp_path / "shown.toml").write_text(capsys.readouterr().out)
    assert build_config(build_parser().parse_args([*verb, "--config", str(tmp_path / "shown.toml")])) == got


def _first_float(table, prefix=""):
    for k, v in table.items():
        if isinstance(v, float):
            return prefix + k
        if isinstance(v, dict) and (found := _first_float(v, f"{prefix}{k}.")):
            return found
    return None


def test_config_show_of_a_verb_without_config_is_a_clear_error(capsys):
    assert main(["config", "show", "tsne", "x.npy", "-o", "y.npy"]) == 2
    assert "'reprlab tsne' takes no config file" in capsys.readouterr().err


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["tsne", "--help"])
    out = capsys.readouterr().out
    assert "default: 30.0" in out and "(default: 500)" in out
