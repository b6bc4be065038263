"""TOML + --set overrides mapped onto dataclasses; bad keys and types are clear errors."""

from dataclasses import dataclass, field

import pytest

from reprlab.cli.main import main
from reprlab.config import from_dict, load_config, parse_overrides
from reprlab.errors import ConfigError, MissingDataError
from reprlab.train import TrainConfig


@dataclass
class ModelCfg:
    hidden: int = 32
    act: str = "relu"
    widths: tuple[int, ...] = (8, 4)
    dropout: float | None = None


@dataclass
class RunCfg:
    model: ModelCfg = field(default_factory=ModelCfg)
    train: TrainConfig = field(default_factory=TrainConfig)


def test_parse_overrides_types():
    out = parse_overrides(["a.b=3", "a.c=3e-4", "d=true", "e=hello", "f=[1, 2]", 'g="x y"'])
    assert out == {"a": {"b": 3, "c": 3e-4}, "d": True, "e": "hello", "f": [1, 2], "g": "x y"}


def test_precedence_defaults_file_overrides(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('[model]\nhidden = 64\nwidths = [16, 8, 2]\n[train]\nlr = 0.01\noptimizer = "lars"\n')
    cfg = load_config(RunCfg, toml, ["train.lr=0.5", "model.dropout=0.1"], {"model": {"act": "gelu"}})
    assert cfg.model == ModelCfg(hidden=64, act="gelu", widths=(16, 8, 2), dropout=0.1)
    assert cfg.train.lr == 0.5 and cfg.train.optimizer == "lars"
    assert cfg.train.batch_size == TrainConfig().batch_size


def test_int_accepted_for_float_and_none_for_optional():
    cfg = from_dict(RunCfg, {"train": {"lr": 1, "max_grad_norm": "none", "save_every": "none"}})
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.train.max_grad_norm is None and cfg.train.save_every is None


@pytest.mark.parametrize("data,match", [
    ({"train": {"lrr": 1}}, r"unknown config key 'train.lrr'; did you mean 'lr'"),
    ({"modle": {}}, r"unknown config key 'modle'; did you mean 'model'"),
    ({"model": {"hidden": "big"}}, r"model.hidden='big': expected an integer"),
    ({"model": {"hidden": 2.5}}, r"model.hidden=2.5: expected an integer"),
    ({"train": {"resume": "yes"}}, r"train.resume='yes': expected true or false"),
    ({"model": {"widths": 3}}, r"model.widths=3: expected a list"),
    ({"train": {"optimizer": "adagrad"}}, r"train.optimizer='adagrad': choose one of"),
    ({"train": {"batch_size": 0}}, r"train.batch_size=0: must be >= 1"),
    # the message names the spelling a TOML file or --set can give (TOML has no null)
    ({"train": {"save_every": 0}}, r"train.save_every=0: must be >= 1, or None to disable \(`none` in TOML"),
])
def test_bad_config_is_clear(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(RunCfg, data)


def test_bad_file_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nlr = 1\n")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_config(RunCfg, bad)
    bad.write_text("[train]\nlrr = 1\n")
    with pytest.raises(ConfigError, match=r"bad.toml: unknown config key 'train.lrr'"):
        load_config(RunCfg, bad)
    with pytest.raises(MissingDataError, match="nope.toml: config file not found"):
        load_config(RunCfg, tmp_path / "nope.toml")


def test_cli_config_errors_exit_2(capsys, tmp_path):
    assert main(["config", "show", "--set", "train.lr=0.25"]) == 0
    assert "lr = 0.25" in capsys.readouterr().out
    assert main(["config", "show", "--set", "train.lrr=3"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["reprlab: error: unknown config key 'train.lrr'; did you mean 'lr'?"]
    assert main(["config", "show", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml: config file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["config", "show", "--set"])
    assert e.value.code == 2


def test_old_import_path_still_works():
    from reprlab.cli import config_io

    assert config_io.from_dict is from_dict and config_io.load_config is load_config


def _lars() -> TrainConfig:
    return TrainConfig(optimizer="lars", batch_size=256, schedule="cosine", warmup_steps=25, max_grad_norm=None)


@dataclass
class LarsRunCfg:
    model: ModelCfg = field(default_factory=lambda: ModelCfg(hidden=7))
    train: TrainConfig = field(default_factory=_lars)


def test_a_table_changes_only_the_keys_it_names_over_the_fields_own_defaults(tmp_path):
    """--set train.lr (or a [train] table) keeps the run's LARS/batch 256/cosine, not TrainConfig()'s."""
    toml = tmp_path / "run.toml"
    toml.write_text("[train]\nwarmup_steps = 5\n")
    cfg = load_config(LarsRunCfg, toml, ["train.lr=0.125", "model.act=gelu"])
    assert cfg.train == TrainConfig(optimizer="lars", batch_size=256, schedule="cosine", warmup_steps=5,
                                    max_grad_norm=None, lr=0.125)
    assert cfg.model == ModelCfg(hidden=7, act="gelu")
    assert from_dict(LarsRunCfg, {}) == LarsRunCfg()
