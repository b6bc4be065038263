"""CLI: ``reprlab tsne`` and ``reprlab experiment maps`` end to end on small data."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from reprlab.cli.main import main


def test_tsne_command_writes_map_and_plot(tmp_path, capsys):
    d = load_digits()
    np.savetxt(tmp_path / "x.csv", d.data[:200], delimiter=",")
    np.save(tmp_path / "labels.npy", d.target[:200])
    code = main(["tsne", str(tmp_path / "x.csv"), "-o", str(tmp_path / "map.npy"), "--perplexity", "20",
                 "--plot", str(tmp_path / "map.png"), "--labels", str(tmp_path / "labels.npy")])
    assert code == 0
    y = np.load(tmp_path / "map.npy")
    assert y.shape == (200, 2)
    assert (tmp_path / "map.png").stat().st_size > 1000
    out = capsys.readouterr().out
    accuracy = float(out.rsplit("accuracy", 1)[1].split(",")[0])
    assert accuracy > 0.85


@pytest.mark.parametrize("content, args, match", [
    ("1,2\n3,nan\n4,5\n", [], "NaN or inf"),
    ("a,b\n1,2\n", [], "not a numeric matrix"),
    ("0,1\n1,0\n0,1\n", ["--metric", "precomputed"], "square"),
])
def test_tsne_command_bad_input(tmp_path, capsys, content, args, match):
    (tmp_path / "x.csv").write_text(content)
    assert main(["tsne", str(tmp_path / "x.csv"), "-o", str(tmp_path / "m.npy"), "--perplexity", "0.5"] + args) == 2
    assert match in capsys.readouterr().err


def test_tsne_command_threads(tmp_path, capsys):
    x = np.random.default_rng(0).normal(size=(60, 4))
    np.save(tmp_path / "x.npy", x)
    base = ["tsne", str(tmp_path / "x.npy"), "--perplexity", "5", "--n-iter", "20"]
    assert main(base + ["-o", str(tmp_path / "a.npy"), "--n-jobs", "1"]) == 0
    assert main(base + ["-o", str(tmp_path / "b.npy"), "--n-jobs", "2"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert main(base + ["-o", str(tmp_path / "c.npy"), "--n-jobs", "0"]) == 2
    assert "n_jobs=0" in capsys.readouterr().err


def test_tsne_command_missing_file(tmp_path, capsys):
    assert main(["tsne", str(tmp_path / "nope.npy"), "-o", str(tmp_path / "m.npy")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_experiment_maps_small(tmp_path):
    code = main(["experiment", "maps", "-o", str(tmp_path), "--set", "datasets=['digits']",
                 "--set", "n_samples=300", "--set", "methods=['lle','tsne']"])
    assert code == 0
    assert (tmp_path / "maps_digits.png").exists()
    results = {r["method"]: r for r in json.loads((tmp_path / "maps_metrics.json").read_text())["results"]}
    # the talk's point, quantified: t-SNE separates classes better than LLE's strands
    assert results["tsne"]["knn_accuracy"] > results["lle"]["knn_accuracy"] + 0.05
    assert results["lle"]["strand_ratio"] < results["tsne"]["strand_ratio"]


def test_map_figures_name_the_classes_and_never_say_nan(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from reprlab.embed.runs import MapResult, plot_maps

    figs = []
    monkeypatch.setattr(plt, "close", figs.append)
    y = np.random.default_rng(0).normal(size=(30, 2))
    labels = np.repeat([0, 1, 2], 10)
    score = {"tsne": MapResult("d", "tsne", 30, 0.0, 0.5, 0.9, 0.3)}
    plot_maps({"tsne": y}, labels, score, tmp_path / "a.png", classes=("T-shirt/top", "Trouser", "Pullover"))
    plot_maps({"tsne": y}, None, {}, tmp_path / "b.png")
    with_labels, without = figs
    assert [t.get_text() for t in with_labels.axes[0].get_legend().get_texts()] == ["T-shirt/top", "Trouser",
                                                                                     "Pullover"]
    assert "strand ratio: median over classes" in " ".join(t.get_text() for t in with_labels.texts)
    assert without.axes[0].get_title() == "t-SNE" and without.axes[0].get_legend() is None
    assert (tmp_path / "a.png").is_file() and (tmp_path / "b.png").is_file()


def test_tsne_plot_of_a_3d_map_is_refused(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(40, 5)))
    assert main(["tsne", str(tmp_path / "x.npy"), "-o", str(tmp_path / "m.npy"), "--n-components", "3",
                 "--plot", str(tmp_path / "m.png")]) == 2
    assert "--plot draws a 2-D map, but n_components=3" in capsys.readouterr().err
