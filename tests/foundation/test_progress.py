"""Progress on long jobs: a plain line per logged window off a terminal, the same window as metrics.jsonl."""

import json
import re

import numpy as np

from reprlab.train import TrainConfig, Trainer
from tests.foundation.toy import make_model, toy_data


def test_progress_lines_show_the_window_just_logged(tmp_path, capsys):
    cfg = TrainConfig(output_dir=str(tmp_path / "toy"), max_steps=12, batch_size=16, log_every=4, save_every=None)
    Trainer(make_model(), cfg, toy_data()).fit()
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("toy: step")]
    rows = [json.loads(r) for r in (tmp_path / "toy" / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "loss" in r]
    assert [int(re.search(r"step (\d+)/12", ln).group(1)) for ln in lines] == [r["step"] for r in rows] == [4, 8, 12]
    for line, row in zip(lines, rows):
        assert f"loss {row['loss']:.4g}" in line and "items_per_s" in line and "ETA" in line
    assert lines[-1].endswith("ETA 0s")


def test_progress_false_is_silent(tmp_path, capsys):
    cfg = TrainConfig(output_dir=str(tmp_path / "toy"), max_steps=4, batch_size=16, log_every=2, save_every=None,
                      progress=False)
    Trainer(make_model(), cfg, toy_data()).fit()
    assert "step" not in capsys.readouterr().err


def test_tsne_verbose_logs_kl_every_50_iterations(capsys):
    from reprlab.embed import TSNE

    x = np.random.default_rng(0).normal(size=(120, 5))
    model = TSNE(perplexity=10, early_exaggeration_iter=50, n_iter=100, verbose=True, random_state=0).fit(x)
    err = capsys.readouterr().err
    its = [int(i) for i in re.findall(r"Iteration +(\d+), KL divergence", err)]
    assert its == [50, 100, 150] and "t-SNE: knn affinities of 120 points" in err
    assert "(early exaggeration)" in err.splitlines()[1] and "(early exaggeration)" not in err.splitlines()[-1]
    last_kl = float(re.findall(r"KL divergence ([\d.]+)", err)[-1])
    assert abs(last_kl - model.kl_divergence_) < 0.05 * model.kl_divergence_  # KL at the last step's start
    TSNE(perplexity=10, early_exaggeration_iter=50, n_iter=50, random_state=0).fit(x)
    assert capsys.readouterr().err == ""


def test_experiment_maps_progress_plain_lines_off_a_terminal_and_a_bar_on_one():
    """Each SNE/t-SNE map of `experiment maps` reports its KL every 50 iterations: plain lines with
    it/s and ETA in a log, a tqdm bar (KL, ETA) on a terminal; the last KL shown is the map's own."""
    import io

    from reprlab.embed.runs import MapProgress, MapResult, MapsRunConfig, _iterations, embed

    x = np.random.default_rng(0).normal(size=(60, 5))
    cfg = MapsRunConfig(sne_iter=100, perplexity=10)
    log = MapProgress(1, stream=io.StringIO())
    log.start("toy", "sne", _iterations("sne", cfg))
    embed("sne", x, cfg, [log.iteration])
    log.finish(MapResult("toy", "sne", 60, 0.5, 0.9, 0.9, 0.5))
    lines = log.stream.getvalue().splitlines()
    assert [re.match(r"maps 1/1 toy SNE: iteration (\d+)/100, KL [\d.]+, \d+ it/s, ETA \d+ s$", ln).group(1)
            for ln in lines[:-1]] == ["50", "100"]
    assert lines[-1] == "maps: toy sne (1/1) in 0.5 s, kNN acc 0.900"

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    bar = MapProgress(1, stream=Terminal())
    bar.start("toy", "sne", 100)
    kls = []
    embed("sne", x, cfg, [bar.iteration, lambda it, kl, e: kls.append(kl) or False])
    out = bar.stream.getvalue()
    assert "100/100" in out and f"KL={kls[-1]:.4f}" in out and "iteration" not in out


def test_train_tensorboard_writes_events_or_names_the_package(tmp_path):
    """``train.tensorboard=true`` (issue 20 item 9): event files beside metrics.jsonl, or one clear line."""
    import importlib.util

    import pytest

    from reprlab.errors import ConfigError

    cfg = TrainConfig(output_dir=str(tmp_path / "toy"), max_steps=4, batch_size=16, log_every=2, save_every=None,
                      progress=False, tensorboard=True)
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ConfigError, match=r"needs the tensorboard package: pip install tensorboard"):
            Trainer(make_model(), cfg, toy_data()).fit()
    else:
        Trainer(make_model(), cfg, toy_data()).fit()
        assert list((tmp_path / "toy" / "tensorboard").glob("events.out.tfevents.*"))
