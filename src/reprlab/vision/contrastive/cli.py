"""``reprlab simclr train|eval|report`` and the SimCLR step of ``reprlab demo`` (runs in
:mod:`reprlab.vision.contrastive.runs`).

* ``train --data digits|fashion-mnist|mnist|IDX_DIR|IMAGE_DIR``: contrastive pretraining through
  the shared Trainer (run directory with config.json, metrics.jsonl, model.safetensors);
* ``eval --mode linear|knn|finetune --labels 1%|10%|100% RUN_DIR``: one evaluation protocol on the
  pretrained encoder (finetune also trains the supervised-from-scratch baseline);
* ``report RUN_DIR``: the whole table (linear, kNN, fine-tuning vs supervised at 1/10/100%);
* ``reprlab experiment simclr``: the documented Fashion-MNIST recipe over several seeds, every
  setting chosen on a validation split, mean +- std per protocol (``report.md``).

An image folder is ``DIR/<class>/<image>`` (PNG/JPEG/... read with Pillow), optionally split into
``DIR/train`` and ``DIR/test``; otherwise a seeded, stratified 80/20 split is used. Unreadable
files are skipped with a warning that counts them (``--set data.strict=true`` fails on the first,
naming it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reprlab.cli.common import add_config_args, build_config, command_group


def cmd_train(args: argparse.Namespace) -> int:
    from reprlab.vision.contrastive.runs import run_simclr

    cfg = build_config(args)
    result = run_simclr(cfg)
    logs = result.logs
    shown = ", ".join(f"{k} {logs[k]:.4g}" for k in ("ntxent", "pair_acc", "eval_probe_acc") if k in logs)
    print(f"simclr: {result.train.step} steps on {cfg.data.name} in {result.seconds:.0f}s ({shown}); "
          f"run in {result.train.run_dir}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from reprlab.transfer import EvalConfig
    from reprlab.vision.contrastive.runs import evaluate_run

    overrides = {"mode": args.mode, "labels": args.labels, "seed": args.seed, "device": args.device or "auto",
                 "baseline": not args.no_baseline}
    if args.steps:
        overrides["finetune_steps"] = args.steps
    result = evaluate_run(Path(args.run_dir), EvalConfig(**overrides))
    extra = (f", supervised from scratch {result['supervised_accuracy']:.4f}"
             if "supervised_accuracy" in result else "")
    print(f"simclr eval {args.mode} with {args.labels} labels ({result['n_labelled']} examples): "
          f"accuracy {result['accuracy']:.4f}{extra}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from reprlab.vision.contrastive.runs import SimCLRReportConfig, run_simclr_report

    cfg = SimCLRReportConfig(run_dir=args.run_dir, fractions=tuple(args.fractions), seed=args.seed,
                             finetune_steps=args.steps, baseline=not args.no_baseline,
                             device=args.device or "auto", tsne_points=args.tsne)
    report = run_simclr_report(cfg, on_row=lambda row: print(json.dumps(row), flush=True))
    print(report.table)
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from reprlab.vision.contrastive.runs import run_simclr_experiment

    result = run_simclr_experiment(build_config(args))
    print(result.table)
    print(f"experiment directory: {result.run_dir}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    experiments = command_group(sub, "experiment", "reproduce a figure or table from the source texts",
                                metavar="EXPERIMENT")
    x = experiments.add_parser("simclr", help="SimCLR recipe on Fashion-MNIST: linear, kNN, 1%% labels vs "
                               "supervised, seeds, settings chosen on validation")
    add_config_args(x, config="reprlab.vision.contrastive.runs:SimCLRExperimentConfig",
                    data="fashion-mnist (default) | digits | mnist | IDX directory | image folder")
    x.set_defaults(handler=cmd_experiment)

    verbs = command_group(sub, "simclr", "SimCLR contrastive pretraining and its evaluations")

    t = verbs.add_parser("train", help="contrastive pretraining (SimCLR) of an image encoder")
    add_config_args(t, config="reprlab.vision.contrastive.runs:SimCLRRunConfig", data="digits | fashion-mnist | mnist | IDX directory | image folder")
    t.set_defaults(handler=cmd_train)

    e = verbs.add_parser("eval", help="linear / kNN / fine-tuning evaluation of a trained run")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--mode", choices=("linear", "knn", "finetune"), default="linear")
    e.add_argument("--labels", default="100%", help="fraction of training labels: 1%%, 10%%, 100%%")
    e.add_argument("--seed", type=int, default=0, help="fixes the label subset and fine-tuning")
    e.add_argument("--steps", type=int, default=0, help="fine-tuning steps (default 300)")
    e.add_argument("--no-baseline", action="store_true", help="finetune: skip the from-scratch baseline")
    e.add_argument("--device", help="auto | cpu | cuda")
    e.set_defaults(handler=cmd_eval)

    r = verbs.add_parser("report", help="linear, kNN and 1/10/100%% fine-tuning vs supervised table")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--fractions", nargs="+", default=["1%", "10%", "100%"])
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=int, default=300, help="fine-tuning steps per fraction")
    r.add_argument("--no-baseline", action="store_true", help="skip the supervised-from-scratch runs")
    r.add_argument("--device", help="auto | cpu | cuda")
    r.add_argument("--tsne", type=int, default=2000, metavar="N",
                   help="t-SNE map of h for N test images, saved as tsne_h.png (0: skip)")
    r.set_defaults(handler=cmd_report)


def demo(out_dir: Path) -> str:
    """SimCLR on digits with the small CNN: linear-probe accuracy vs the same encoder at random init."""
    from reprlab.vision.contrastive.runs import demo as run_demo

    return run_demo(out_dir)
