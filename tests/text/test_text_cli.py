"""``reprlab text params`` and the demo."""

from __future__ import annotations

import json

import pytest

from reprlab.cli.main import main
from reprlab.text.cli import demo


def test_params_prints_bert_base_table(capsys):
    assert main(["text", "params", "bert-base"]) == 0
    out = capsys.readouterr().out
    assert "bert-base: 109,482,240 parameters" in out
    assert "layer FFN in               H*I+I                2,362,368     12    28,348,416" in out


def test_params_from_toml_with_override_and_json(tmp_path, capsys):
    cfg = tmp_path / "enc.toml"
    cfg.write_text('[encoder]\nvocab_size = 100\nhidden_size = 8\nnum_layers = 3\nnum_heads = 2\n'
                   'intermediate_size = 16\nmax_position = 10\n')
    assert main(["text", "params", str(cfg), "--set", "sharing=all", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    # 100*8 + 2*8 + 10*8 + 16 | one shared layer: 4*72 + 16 + (8*16+16) + (16*8+8) + 16 | pooler 72
    assert d["total"] == 912 + 600 + 72


def test_params_of_a_hf_checkpoint_directory(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps(dict(
        model_type="albert", vocab_size=30000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, embedding_size=128, hidden_act="gelu_new")))
    assert main(["text", "params", str(tmp_path)]) == 0
    assert "11,683,584 parameters" in capsys.readouterr().out  # HF AlbertModel (albert-base-v2)


@pytest.mark.parametrize("argv,match", [
    (["bert-huge"], "is neither a preset"),
    (["tiny", "--set", "hidden_size=65"], "hidden_size=65 is not divisible by num_heads=4"),
    (["tiny", "--set", "hiden_size=64"], "unknown config key 'hiden_size'; did you mean 'hidden_size'"),
    (["missing.json"], "missing.json: not found"),
])
def test_params_bad_input_is_one_line_exit_2(argv, match, capsys):
    assert main(["text", "params", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reprlab: error:") and match in err and err.count("\n") == 1


def test_demo_writes_the_table(tmp_path):
    line = demo(tmp_path)
    assert line.startswith("text: bert-base has 109,482,240 parameters")
    assert "109,482,240" in (tmp_path / "text" / "bert-base-params.txt").read_text()
