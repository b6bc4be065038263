"""NT-Xent against the loop reference, closed forms, gradcheck, DDP all-gather, errors."""

from __future__ import annotations

import math
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.errors import ConfigError, DataError
from reprlab.vision.contrastive.losses import NTXentLoss, nt_xent
from tests.launch import free_port
from tests.vision.contrastive.simclr_reference import nt_xent_loop


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 6), d=st.integers(1, 5), tau=st.floats(0.05, 2.0), seed=st.integers(0, 10_000))
def test_nt_xent_equals_loop_reference_value_and_gradient(n, d, tau, seed):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    ours = nt_xent(z1, z2, tau)
    ref = nt_xent_loop(z1, z2, tau)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    g_ours = torch.autograd.grad(ours, (z1, z2))
    g_ref = torch.autograd.grad(ref, (z1, z2))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_nt_xent_gradcheck_float64():
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: nt_xent(a, b, 0.3), (z1, z2))


@pytest.mark.parametrize("n", [2, 5, 32])
def test_identical_embeddings_give_log_2n_minus_1(n):
    z = torch.ones(n, 8)  # every similarity is 1: the positive is one of 2n-1 equal logits
    assert nt_xent(z, z.clone(), 0.5).item() == pytest.approx(math.log(2 * n - 1), rel=1e-6)
    # -log(1 / (2n - 1)) whatever the temperature
    assert nt_xent(z, z.clone(), 0.07).item() == pytest.approx(-math.log(1 / (2 * n - 1)), rel=1e-6)


def test_orthogonal_pairs_closed_form():
    # 2 images, views identical within an image and orthogonal across: s(i, j) = 1, others 0
    z1 = torch.eye(2)
    tau = 0.5
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2))
    assert nt_xent(z1, z1.clone(), tau).item() == pytest.approx(expected, rel=1e-6)


def test_symmetry_and_scale_invariance():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    torch.testing.assert_close(nt_xent(z1, z2), nt_xent(z2, z1))
    torch.testing.assert_close(nt_xent(z1, z2), nt_xent(3 * z1, 0.5 * z2))
    perm = torch.randperm(8, generator=g)
    torch.testing.assert_close(nt_xent(z1, z2), nt_xent(z1[perm], z2[perm]))


def test_module_form_and_bad_inputs():
    z = torch.randn(4, 3)
    assert NTXentLoss(0.5)(z, z + 1).item() == pytest.approx(nt_xent(z, z + 1, 0.5).item())
    with pytest.raises(ConfigError, match="temperature=0.*must be > 0"):
        NTXentLoss(0.0)
    with pytest.raises(ConfigError, match="temperature=-1"):
        nt_xent(z, z, -1.0)
    with pytest.raises(DataError, match="at least 2 are needed"):
        nt_xent(z[:1], z[:1])
    with pytest.raises(DataError, match="must both be"):
        nt_xent(z, z[:, :2])


# ----------------------------------------------------------------------------- DDP all-gather
def _ddp_worker(rank: int, world: int, port: int, z1: torch.Tensor, z2: torch.Tensor, queue) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        n = z1.shape[0] // world
        a = z1[rank * n:(rank + 1) * n].clone().requires_grad_(True)
        b = z2[rank * n:(rank + 1) * n].clone().requires_grad_(True)
        loss = nt_xent(a, b, 0.3)
        loss.backward()
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss)
        # DDP averages gradients over processes: divide by the world size as it would
        # plain lists: tensors sent through a queue would be shared memory that dies with this process
        queue.put((rank, float(mean_loss) / world, (a.grad / world).tolist(), (b.grad / world).tolist()))
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_all_gather_version_equals_single_process_loss_on_concatenated_batch():
    import torch.multiprocessing as mp

    world, n = 2, 3
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(world * n, 5, generator=g, dtype=torch.float64)
    z2 = torch.randn(world * n, 5, generator=g, dtype=torch.float64)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    mp.spawn(_ddp_worker, args=(world, free_port(), z1, z2, queue), nprocs=world, join=True)
    results = sorted(queue.get(timeout=30) for _ in range(world))

    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    full = nt_xent(a, b, 0.3)
    full.backward()
    for rank, loss, ga, gb in results:
        assert loss == pytest.approx(full.item(), rel=1e-10)
        torch.testing.assert_close(torch.tensor(ga, dtype=torch.float64), a.grad[rank * n:(rank + 1) * n])
        torch.testing.assert_close(torch.tensor(gb, dtype=torch.float64), b.grad[rank * n:(rank + 1) * n])
