"""``reprlab autoencoder|rbm|vae`` write complete run directories with sensible numbers."""

from __future__ import annotations

import json

import pytest

from reprlab.cli.main import main


def _evaluation(run_dir) -> dict:
    return json.loads((run_dir / "evaluation.json").read_text())


def test_rbm_train_dbn_reports_nats_per_layer(tmp_path, capsys):
    out = tmp_path / "rbm"
    code = main(["rbm", "train", "--data", "digits", "-o", str(out), "--set", "widths=[64, 16, 8]",
                 "--set", "train.max_steps=60", "--set", "train.batch_size=32", "--set", "ais_steps=300",
                 "--set", "ais_chains=20", "--set", "eval_limit=100"])
    assert code == 0
    ev = _evaluation(out)
    assert [row["layers"] for row in ev["layers"]] == [1, 2]
    first = ev["layers"][0]
    # one RBM: the "bound" is the exact -F(v) - log Z, i.e. the test log-likelihood itself
    assert first["test_log_likelihood_bound_nats"] == pytest.approx(first["test_log_likelihood_nats"], abs=1e-3)
    assert -64 * 0.6932 < first["test_log_likelihood_nats"] < 0
    for name in ("filters.png", "samples.png", "layer-1/model.safetensors", "layer-2/metrics.jsonl"):
        assert (out / name).exists(), name
    out_text = capsys.readouterr().out
    assert "{" not in out_text and f"evaluation.json and figures in {out}/" in out_text  # a summary, not JSON
    assert (f"1 layer(s): test log-likelihood {first['test_log_likelihood_nats']:.2f} nats" in out_text
            and f"2 layer(s): test log-likelihood bound {ev['layers'][1]['test_log_likelihood_bound_nats']:.2f}"
            in out_text)
    for row in ev["layers"]:  # two independent AIS runs per layer (ais_runs=2); the bound is linear in log Z
        z1, z2 = row["log_z_runs"]
        assert z1 != z2 and row["ais_spread_nats"] == pytest.approx(abs(z1 - z2))
        b1, b2 = row["test_log_likelihood_bound_runs"]
        assert b1 - b2 == pytest.approx(z2 - z1) and min(b1, b2) <= row["test_log_likelihood_bound_nats"] <= max(b1, b2)


def test_compare_init_with_dbn_and_stacked_pretraining(tmp_path):
    """The 2006 comparison at digits scale: the same sigmoid net pretrained (RBMs or denoising AEs) vs N(0, 0.01)."""
    out = tmp_path / "init"
    code = main(["autoencoder", "compare-init", "--data", "digits", "-o", str(out),
                 "--set", 'variants=["sigmoid:dbn", "sigmoid:stacked", "sigmoid:small_gaussian"]',
                 "--set", "model.input_dim=64", "--set", "model.hidden=[32]", "--set", "model.code_dim=10",
                 "--set", "validation=200",
                 "--set", "train.max_steps=150", "--set", "train.batch_size=64", "--set", "train.lr=0.003",
                 "--set", "pretrain_train.max_steps=150", "--set", "pretrain_train.lr=0.1",
                 "--set", "pretrain_train.batch_size=50", "--set", "stacked_train.max_steps=150"])
    assert code == 0
    ev = _evaluation(out)
    err, before, val = (ev[k] for k in ("test_sq_err_per_image", "before_finetune_test_sq_err_per_image",
                                         "validation_sq_err_per_image"))
    assert set(before) == {"sigmoid:dbn", "sigmoid:stacked"} and set(val) == set(err)
    assert err["sigmoid:dbn"] < before["sigmoid:dbn"]  # fine-tuning improves the unrolled stack
    assert max(err["sigmoid:dbn"], err["sigmoid:stacked"]) < 0.8 * err["sigmoid:small_gaussian"], err
    for name in ("init_comparison.png", "sigmoid-dbn/pretrain/layer-2/model.safetensors",
                 "sigmoid-stacked/pretrain/layer-1/config.json"):
        assert (out / name).exists(), name


def test_compare_init_refuses_a_relu_dbn(tmp_path, capsys):
    code = main(["autoencoder", "compare-init", "--data", "digits", "-o", str(tmp_path / "x"),
                 "--set", 'variants=["relu:dbn"]', "--set", "train.max_steps=2"])
    err = capsys.readouterr().err
    assert code == 2 and "sigmoid:dbn" in err and "Traceback" not in err


def test_autoencoder_train_with_stacked_pretraining(tmp_path, capsys):
    out = tmp_path / "ae"
    code = main(["autoencoder", "train", "-o", str(out), "--set", "pretrain=stacked",
                 "--set", "model.hidden=[32]", "--set", "model.code_dim=10", "--set", "model.input_dim=64",
                 "--set", "train.max_steps=150", "--set", "train.batch_size=64",
                 "--set", "pretrain_train.max_steps=60", "--set", "pretrain_train.optimizer='adam'",
                 "--set", "pretrain_train.lr=0.003"])
    assert code == 0
    ev = _evaluation(out)
    assert ev["pretrain"] == "stacked" and ev["code_dim"] == 10
    assert ev["test_sq_err_per_image"] < 8.0 and 0.0 < ev["knn_acc"] <= 1.0
    assert ev["pca10_test_sq_err_per_image"] == pytest.approx(1.265, abs=0.01)
    for name in ("reconstructions.png", "training_curve.png", "pretrain/layer-2/config.json", "checkpoint-000150"):
        assert (out / name).exists(), name
    assert (f"test squared error per image {ev['test_sq_err_per_image']:.2f} vs PCA-10 "
            f"{ev['pca10_test_sq_err_per_image']:.2f}") in capsys.readouterr().out


def test_vae_train_writes_elbo_iwae_and_figures(tmp_path, capsys):
    out = tmp_path / "vae"
    code = main(["vae", "train", "-o", str(out), "--set", "model.hidden=[32]", "--set", "model.latent_dim=2",
                 "--set", "train.max_steps=80", "--set", "iwae_k=50", "--set", "eval_limit=60"])
    assert code == 0
    ev = _evaluation(out)
    assert ev["iwae_k50"] > ev["elbo"] - 0.3 and ev["elbo"] == pytest.approx(-ev["recon_nll"] - ev["kl"])
    for name in ("samples.png", "interpolation.png", "latent_map.png", "latent_grid.png", "elbo_terms.png"):
        assert (out / name).exists(), name
    assert f"test ELBO {ev['elbo']:.2f} nats" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["autoencoder", "train", "-o", str(tmp_path / "x"), "--set", "model.activation='swish'"]) == 2
    assert "model.activation='swish'" in capsys.readouterr().err
    assert main(["vae", "train", "-o", str(tmp_path / "y"), "--set", "model.latnt_dim=2"]) == 2
    assert "did you mean 'latent_dim'" in capsys.readouterr().err
    assert main(["rbm", "train", "-o", str(tmp_path / "z"), "--set", "widths=[10, 5]"]) == 2
    assert "data size 64" in capsys.readouterr().err
