"""``reprlab`` sub-commands of the transfer domain (registered by reprlab.cli.main).

Text transfer verbs live in the ``transfer`` group and, as the issue names them, at top level:

* ``reprlab finetune --task seq-cls|pair-cls|token-cls|multiple-choice --train F --valid F --model M -o OUT``
  (``--mode features`` trains a probe on cached frozen features instead);
* ``reprlab predict OUT FILE -o predictions.jsonl``;
* ``reprlab embed-text -m MODEL FILE -o vectors.npy``;
* ``reprlab transfer export-hf OUT HF_DIR``;
* ``reprlab experiment transfer`` (the comparison of docs/transfer.md).

Parsing only: the work is in :mod:`reprlab.transfer.text_runs` and :mod:`reprlab.transfer.experiment`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from reprlab.cli.common import add_config_args, add_experiment_args, build_config, command_group


@contextlib.contextmanager
def _writing(where: object) -> Iterator[None]:
    """A failed write (full or read-only disk) as one line; the atomic writers leave no partial file."""
    from reprlab.errors import DataError, ReprlabError

    try:
        yield
    except ReprlabError:
        raise
    except OSError as e:
        raise DataError(f"{e.filename or where}: cannot write ({e.strerror or e}); free space or choose another "
                        "output path") from None


def _add_finetune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune (or probe) a text model on a labelled JSONL/CSV file")
    p.add_argument("--task", choices=["seq-cls", "pair-cls", "token-cls", "multiple-choice"], help="sets task")
    p.add_argument("--mode", choices=["finetune", "features"], help="finetune the encoder, or train a probe on "
                   "its frozen features (sets mode)")
    p.add_argument("--train", dest="train_file", metavar="FILE", help="training rows (.jsonl or .csv)")
    p.add_argument("--valid", dest="valid_file", metavar="FILE", help="validation rows: early stopping, best checkpoint")
    p.add_argument("--model", metavar="RUN_OR_HF_DIR", help="pretraining run, fine-tuned run or HF BERT/RoBERTa/ALBERT dir")
    p.add_argument("--long-text", dest="long_text", choices=["head", "tail", "head+tail", "key-sentences", "chunks"],
                   help="how texts longer than --max-length are cut (sets long_text.strategy)")
    p.add_argument("--pooling", choices=["cls", "pooler", "mean", "max"])
    p.add_argument("--layer", help="last | N | concat-last-K | mix")
    p.add_argument("--max-length", dest="max_length", type=int)
    p.add_argument("--epochs", type=float)
    p.add_argument("--export-hf", dest="export_hf", metavar="DIR", help="also write a HF *ForSequenceClassification dir")
    add_config_args(p, config="reprlab.transfer.text_runs:TextTransferConfig")
    p.set_defaults(handler=_finetune)


def _finetune(args: argparse.Namespace) -> int:
    from reprlab.transfer.text_runs import export_hf, run_finetune

    for flag in ("task", "mode", "train_file", "valid_file", "model", "pooling", "layer", "max_length", "epochs"):
        value = getattr(args, flag)
        if value is not None:
            args.overrides.append(f"{flag}={json.dumps(value)}")
    if args.long_text:
        args.overrides.append(f"long_text.strategy={json.dumps(args.long_text)}")
    cfg = build_config(args)
    with _writing(cfg.train.output_dir):
        res = run_finetune(cfg, device=cfg.train.device if cfg.train.device != "auto" else "cpu")
    m = res.metrics
    if m:
        print(f"{res.run_dir}: valid accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} "
              f"({m['n']} {'words' if cfg.task == 'token-cls' else 'examples'}, {res.steps} steps)")
    else:
        print(f"{res.run_dir}: trained {res.steps} steps (no --valid file, so no metrics)")
    if args.export_hf:
        with _writing(args.export_hf):
            print(f"HF checkpoint: {export_hf(res.run_dir, args.export_hf)}")
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="label every row of a JSONL/CSV file with a fine-tuned run")
    p.add_argument("run", metavar="OUT", help="a `reprlab finetune -o OUT` directory")
    p.add_argument("file", metavar="FILE", help="rows to label (.jsonl or .csv; labels optional)")
    p.add_argument("-o", "--output", required=True, metavar="predictions.jsonl")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=_predict)


def _predict(args: argparse.Namespace) -> int:
    from reprlab.transfer.text_runs import predict_file

    with _writing(args.output):
        metrics = predict_file(args.run, args.file, args.output, batch_size=args.batch_size, device=args.device)
    line = f"wrote {args.output}"
    if metrics:
        line += f"; accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} on {metrics['n']}"
    print(line)
    return 0


def _add_embed(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed-text", help="sentence embeddings of every line of a text file (or JSONL 'text')")
    p.add_argument("file", metavar="FILE", help=".txt (one text per non-empty line), .jsonl or .csv with 'text'")
    p.add_argument("-m", "--model", required=True, metavar="MODEL", help="pretraining/fine-tuned run or HF dir")
    p.add_argument("-o", "--output", required=True, metavar="vectors.npy")
    p.add_argument("--pooling", default="mean", choices=["mean", "cls", "max", "pooler"])
    p.add_argument("--no-normalize", dest="normalize", action="store_false", help="keep the raw pooled vectors")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=_embed)


def _embed(args: argparse.Namespace) -> int:
    from reprlab.transfer.embeddings import read_texts, save_vectors
    from reprlab.transfer.text_model import load_text_model

    texts = read_texts(args.file)
    model = load_text_model(args.model, device=args.device)
    vectors = model.encode(texts, pooling=args.pooling, normalize=args.normalize, batch_size=args.batch_size,
                           max_length=args.max_length, progress=True)
    with _writing(args.output):
        save_vectors(vectors, args.output)
    print(f"wrote {args.output}: {tuple(vectors.shape)} float32")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-hf", help="write a fine-tuned run as a HF *ForSequenceClassification/... directory")
    p.add_argument("run", metavar="OUT")
    p.add_argument("directory", metavar="HF_DIR")
    p.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from reprlab.transfer.text_runs import export_hf

    with _writing(args.directory):
        print(f"wrote {export_hf(args.run, args.directory)}")
    return 0


def _add_experiment(sub: argparse._SubParsersAction) -> None:
    group = command_group(sub, "experiment", "reproducible comparisons behind the docs")
    p = group.add_parser("transfer", help="feature extraction vs fine-tuning vs scratch vs TF-IDF (docs/transfer.md)")
    add_experiment_args(p, "reprlab.transfer.experiment:TransferExperimentConfig", "seeds=[0]")
    p.add_argument("--quick", action="store_true", help="the small setting the tests run (sets quick=true)")
    p.set_defaults(handler=_experiment)


def _experiment(args: argparse.Namespace) -> int:
    from reprlab.train import torch_threads
    from reprlab.transfer.experiment import run_transfer_experiment

    if args.quick:
        args.overrides.append("quick=true")
    cfg = build_config(args)
    with torch_threads(args.threads):
        result = run_transfer_experiment(cfg)
    print(result.table)
    print(f"results: {Path(cfg.output_dir) / 'results.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reprlab transfer ...`` and the top-level text transfer verbs."""
    group = command_group(sub, "transfer", "use a pretrained text encoder: fine-tune, probe, predict, embed")
    for add in (_add_finetune, _add_predict, _add_embed, _add_export):
        add(group)
    for add in (_add_finetune, _add_predict, _add_embed):
        add(sub)
    _add_experiment(sub)
