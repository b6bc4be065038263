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
