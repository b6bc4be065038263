"""Coherence benchmarks: KSG vs scikit-learn, batched stereogram fetching, IMAX / CPC step times.

Run: ``python benchmarks/bench_coherence.py`` (updates docs/benchmarks.md). Tiny models use one
torch thread, as the coherence commands do.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from harness import compare, write_rows  # noqa: E402


def main() -> None:
    from sklearn.feature_selection import mutual_info_regression
    from torch.utils.data import DataLoader

    from reprlab.coherence.cpc import CPCConfig, CPCObjective, slow_factor_signals
    from reprlab.coherence.imax import IMAXConfig, IMAXObjective
    from reprlab.coherence.mi import gaussian_mi, ksg_mutual_information
    from reprlab.coherence.stereograms import keep_batch, random_dot_stereograms

    torch.set_num_threads(1)
    rows = []

    # 1. KSG estimator vs scikit-learn's mutual_info_regression (same algorithm, k=3)
    rng = np.random.default_rng(0)
    n, rho = 20_000, 0.8
    x = rng.standard_normal(n)
    y = rho * x + np.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    rows.append(compare(
        "coherence", "KSG MI, 20k 1-D Gaussian pairs (k=3)",
        ours=lambda: ksg_mutual_information(x, y, k=3),
        reference=lambda: mutual_info_regression(x[:, None], y, n_neighbors=3, random_state=0)[0],
        reference_name="sklearn mutual_info_regression", repeats=5,
        quality=lambda a, b: f"ours {a:.4f} vs sklearn {b:.4f} nats (true {gaussian_mi(rho):.4f})"))

    # 2. batched fetch (__getitems__ + keep_batch) vs per-item indexing + default_collate
    data = random_dot_stereograms(16_384, seed=0).dataset()

    def epoch(batched: bool) -> int:
        loader = DataLoader(data, batch_size=256, shuffle=True, drop_last=True,
                            collate_fn=keep_batch if batched else None)
        if not batched:  # hide __getitems__ so the loader indexes item by item
            class PerItem(torch.utils.data.Dataset):
                def __len__(self):
                    return len(data)

                def __getitem__(self, i):
                    return data[i]
            loader = DataLoader(PerItem(), batch_size=256, shuffle=True, drop_last=True)
        return sum(1 for _ in loader)

    rows.append(compare("coherence", "stereogram epoch, 16k items, batch 256",
                        ours=lambda: epoch(True), reference=lambda: epoch(False),
                        reference_name="per-item DataLoader + default_collate", repeats=5,
                        quality="same batches (64 per epoch)"))

    # 3. IMAX optimizer step: our objective vs the same maths written inline in plain torch
    strips = data.strips[:256]
    torch.manual_seed(0)
    obj = IMAXObjective(IMAXConfig(), 2, 1, 16)
    opt = torch.optim.Adam(obj.parameters(), 3e-3)
    torch.manual_seed(0)
    conv, lin = torch.nn.Conv2d(2, 16, (1, 5)), torch.nn.Linear(16, 1)
    opt_ref = torch.optim.Adam(list(conv.parameters()) + list(lin.parameters()), 3e-3)

    def ours_step() -> float:
        loss = obj(strips).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    def ref_step() -> float:
        y = lin(torch.relu(conv(strips.flatten(0, 1))).mean((2, 3))).view(256, 2)
        a, b = y[:, 0], y[:, 1]
        loss = -0.5 * (torch.log((a + b).var() + 1e-6) - torch.log((a - b).var() + 1e-6))
        opt_ref.zero_grad()
        loss.backward()
        opt_ref.step()
        return float(loss.detach())

    rows.append(compare("coherence", "IMAX step, batch 256, 2 patches",
                        ours=lambda: [ours_step() for _ in range(20)],
                        reference=lambda: [ref_step() for _ in range(20)],
                        reference_name="same maths inline (plain torch)", repeats=5,
                        quality="20 Adam steps per call"))

    # 4. CPC step (no reference library implements CPC on CPU; timed alone)
    xs, _ = slow_factor_signals(32, 128, seed=0)
    cpc = CPCObjective(CPCConfig())
    copt = torch.optim.Adam(cpc.parameters(), 2e-3)

    def cpc_step() -> None:
        loss = cpc(xs).loss
        copt.zero_grad()
        loss.backward()
        copt.step()

    rows.append(compare("coherence", "CPC step, batch 32 x 128 samples, K=4", ours=cpc_step, reference=None,
                        repeats=5, quality="GRU 64, ~1k negatives per prediction"))
    write_rows(rows)


if __name__ == "__main__":
    main()
