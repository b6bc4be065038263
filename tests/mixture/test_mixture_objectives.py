"""Cluster purity, the `reprlab gmm` commands and the three-objectives experiment at a quick setting."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import normalized_mutual_info_score

from reprlab.cli.main import build_parser, main
from reprlab.data import DataSpec
from reprlab.errors import DataError
from reprlab.mixture import GaussianMixture, cluster_purity


def test_purity_by_hand_and_its_invariances():
    truth = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    pred = np.array([5, 5, 7, 7, 7, 7, 9, 9, 9, 5])  # cluster 5: {0,0,2}, 7: {0,1,1,1}, 9: {2,2,2}
    assert cluster_purity(truth, pred) == pytest.approx((2 + 3 + 3) / 10)
    assert cluster_purity(truth, (pred * 3) % 11) == cluster_purity(truth, pred)  # cluster names do not matter
    assert cluster_purity(truth, np.arange(10)) == 1.0  # one point per cluster is trivially pure
    assert cluster_purity(truth, np.zeros(10)) == pytest.approx(0.4)  # one cluster: the largest class share
    with pytest.raises(DataError, match="10 true labels and 3 cluster labels"):
        cluster_purity(truth, pred[:3])


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("gmm")
    data = load_digits()
    np.save(d / "x.npy", data.data[:600])
    np.save(d / "y.npy", data.target[:600])
    return d


def test_gmm_fit_and_predict_commands(digits_files, capsys):
    d = digits_files
    assert main(["gmm", "fit", str(d / "x.npy"), "-o", str(d / "run"), "-k", "8,10", "--covariance-type", "diag",
                 "--labels", str(d / "y.npy")]) == 0
    line = capsys.readouterr().out
    summary = json.loads((d / "run" / "summary.json").read_text())
    clusters = np.load(d / "run" / "clusters.npy")
    labels = np.load(d / "y.npy")
    assert summary["purity"] == pytest.approx(cluster_purity(labels, clusters))
    assert summary["nmi"] == pytest.approx(normalized_mutual_info_score(labels, clusters))
    assert f"purity {summary['purity']:.3f}" in line and summary["n_components"] in (8, 10)
    assert min(summary["bic"], key=summary["bic"].get) == str(summary["n_components"])
    model = GaussianMixture.load(d / "run" / "gmm.safetensors")
    assert main(["gmm", "predict", str(d / "run" / "gmm.safetensors"), str(d / "x.npy"), "-o", str(d / "p.npy"),
                 "--proba", str(d / "pp.npy")]) == 0
    assert np.array_equal(np.load(d / "p.npy"), clusters)
    np.testing.assert_allclose(np.load(d / "pp.npy"), model.predict_proba(np.load(d / "x.npy")))


@pytest.mark.parametrize("argv, message", [
    (["-k", "0"], "--n-components '0'"),
    (["-k", "601"], "n_components=601 but X has only 600 rows"),
    (["--covariance-type", "full", "--reg-covar", "0", "-k", "3"], "singular covariance"),
])
def test_gmm_fit_bad_input_is_one_line_exit_2(digits_files, capsys, argv, message):
    d = digits_files
    assert main(["gmm", "fit", str(d / "x.npy"), "-o", str(d / "bad")] + argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_gmm_commands_name_the_file_and_row_of_a_non_finite_value(digits_files, capsys):
    d = digits_files
    x = np.load(d / "x.npy")
    x[5, 2] = np.nan
    np.save(d / "nan.npy", x)
    assert main(["gmm", "fit", str(d / "nan.npy"), "-o", str(d / "nan-run"), "-k", "2"]) == 2
    err = capsys.readouterr().err
    assert f"{d / 'nan.npy'}: GaussianMixture: X contains NaN in 1 of 600 rows" in err and "row 5, column 2" in err
    assert err.count("\n") == 1
    assert main(["gmm", "fit", str(d / "x.npy"), "-o", str(d / "ok-run"), "-k", "2"]) == 0
    capsys.readouterr()
    assert main(["gmm", "predict", str(d / "ok-run" / "gmm.safetensors"), str(d / "nan.npy"),
                 "-o", str(d / "c.npy")]) == 2
    err = capsys.readouterr().err
    assert f"{d / 'nan.npy'}: GaussianMixture: X contains NaN" in err and err.count("\n") == 1


def test_objectives_command_keeps_its_own_training_defaults():
    """-o and --set change only what they name (issue 20.1: nested defaults must survive)."""
    from reprlab.cli.common import build_config
    from reprlab.mixture.runs import ObjectivesRunConfig

    args = build_parser().parse_args(["experiment", "objectives", "-o", "somewhere",
                                      "--set", "autoencoder_train.max_steps=5", "--set", "simclr.width=8"])
    cfg, default = build_config(args), ObjectivesRunConfig()
    assert cfg.output_dir == "somewhere" and cfg.autoencoder_train.max_steps == 5 and cfg.simclr.width == 8
    assert cfg.autoencoder_train.optimizer == default.autoencoder_train.optimizer == "adam"
    assert cfg.autoencoder_train.batch_size == 256 and cfg.simclr_train.schedule == "cosine"
    assert cfg.simclr.proj_dim == default.simclr.proj_dim and cfg.autoencoder.code_dim == default.autoencoder.code_dim


def test_three_objectives_quick_setting(tmp_path, capsys):
    """Digits, a few seconds of training: every objective's clusters are scored from what it computed,
    and each recovers the classes far above chance (1/10)."""
    out = tmp_path / "objectives"
    assert main(["experiment", "objectives", "-o", str(out), "--threads", "1", "--data", "digits",
                 "--set", "dims=10", "--set", "n_init=1", "--set", "autoencoder_train.max_steps=150",
                 "--set", "autoencoder_train.batch_size=128", "--set", "simclr_train.max_steps=40",
                 "--set", "simclr_train.batch_size=128", "--set", "simclr_train.lr=3e-3",
                 "--set", "simclr.width=16", "--set", "simclr.proj_hidden=64", "--set", "simclr.proj_dim=32"]) == 0
    saved = json.loads((out / "objectives.json").read_text())
    rows = {r["objective"]: r for r in saved["rows"]}
    assert set(rows) == {"likelihood", "reconstruction", "coherence"} and saved["n_components"] == 10
    assert all(r["dims"] == 10 for r in rows.values())
    for r in rows.values():
        assert r["purity"] > 0.5 and r["nmi"] > 0.5, r  # measured 0.75-0.83 / 0.70-0.79
    table = (out / "objectives.md").read_text()
    assert all(f"{r['purity']:.3f}" in table for r in rows.values())
    assert "labels unused" in capsys.readouterr().out


def test_run_reports_the_clusters_it_scored():
    import tempfile

    from reprlab.mixture.runs import ObjectivesRunConfig, run_objectives

    with tempfile.TemporaryDirectory() as d:
        result = run_objectives(ObjectivesRunConfig(data=DataSpec("digits"), objectives=("likelihood",), dims=10, n_init=1,
                                                    output_dir=d))
    row = result.rows[0]
    assert row.purity == pytest.approx(cluster_purity(result.labels, result.clusters["likelihood"]))
    assert row.nmi == pytest.approx(normalized_mutual_info_score(result.labels, result.clusters["likelihood"]))


def test_gmm_fit_on_a_full_disk_or_a_file_path_is_one_line(digits_files, capsys, monkeypatch):
    import errno

    d = digits_files
    (d / "a_file").write_text("")
    assert main(["gmm", "fit", str(d / "x.npy"), "-o", str(d / "a_file"), "-k", "2"]) == 2
    assert "cannot create the output directory" in capsys.readouterr().err

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    out = d / "full"
    assert main(["gmm", "fit", str(d / "x.npy"), "-o", str(out), "-k", "2"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    assert not (out / "clusters.npy").exists() and not any(p.name.startswith(".") for p in out.iterdir())


def test_coherence_can_reuse_a_trained_simclr_encoder(tmp_path, capsys):
    """``simclr_weights``: the encoder of a saved SimCLR objective (online probe included) is clustered
    as saved, with no SimCLR training; an encoder of another width is one line, exit 2."""
    import torch

    from reprlab.data import load_split
    from reprlab.mixture.runs import ObjectivesRunConfig, _simclr_features
    from reprlab.train.checkpoint import save_module
    from reprlab.transfer import extract_features
    from reprlab.vision import SimCLRConfig, SimCLRObjective

    torch.manual_seed(3)
    saved = SimCLRObjective(SimCLRConfig(backbone="small_cnn", in_channels=1, width=8, num_classes=10))
    path = tmp_path / "model.safetensors"
    save_module(saved, path)
    cfg = ObjectivesRunConfig(data=DataSpec("digits"), objectives=("coherence",), dims=10, n_init=1,
                              simclr=SimCLRConfig(backbone="small_cnn", in_channels=1, width=8),
                              simclr_weights=str(path), output_dir=str(tmp_path / "run"), device="cpu")
    train, test = load_split(cfg.data, "train"), load_split(cfg.data, "test")
    a, b = _simclr_features(cfg, train, test, "cpu")
    np.testing.assert_array_equal(b, extract_features(saved.encoder.eval(), test.x)[0].double().numpy())
    assert a.shape == (len(train), saved.feature_dim) and not (tmp_path / "run" / "simclr").exists()
    assert main(["experiment", "objectives", "-o", str(tmp_path / "bad"), "--data", "digits", "--set",
                 "objectives=['coherence']", "--set", f"simclr_weights='{path}'", "--set", "simclr.width=16"]) == 2
    err = capsys.readouterr().err
    assert "does not fit simclr.*" in err and err.count("\n") == 1
