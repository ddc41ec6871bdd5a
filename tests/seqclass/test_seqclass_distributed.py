"""SimCLR over two processes (gloo on the CPU): NT-Xent, the SimCLR model with synchronised batch norm, a
two-process pretraining (without augmentation, whose draws differ per rank) and a two-process
pretraining killed after an epoch and resumed, each against its one-process or uninterrupted counterpart."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
from torch.multiprocessing import ProcessExitedException

import mrissl.seqclass.train
from conftest import every_rank, on_two_ranks, own_rows
from mrissl.seqclass.losses import contrastive_top1, normalised_std, nt_xent_loss
from mrissl.seqclass.models import SimCLR, resnet18_encoder
from mrissl.seqclass.augment import AugmentConfig
from mrissl.seqclass.train import PretrainConfig, pretrain, pretrain_from_file
from mrissl.training import distributed_model, process_rank, run_in_processes

pytestmark = pytest.mark.usefixtures("process_server")
TOLERANCE = dict(rtol=0, atol=1e-5)
MODEL_TOLERANCE = dict(rtol=1e-5, atol=5e-5)  # float32 gradients of a network, summed in another order (the first
# convolution's, up to ~2.5, sums every pixel of the batch: with channels-last kernels two processes and one
# differ there by ~1.5e-5)
BATCH = 8


def nt_xent_and_gradients(z1: torch.Tensor, z2: torch.Tensor):
    """NT-Xent of this rank's shard of the pairs, its gradients and the two monitors."""
    rows = own_rows(len(z1))
    first, second = z1[rows].clone().requires_grad_(), z2[rows].clone().requires_grad_()
    loss = nt_xent_loss(first, second, temperature=0.5)
    loss.backward()
    return loss.detach(), first.grad, second.grad, contrastive_top1(first, second), normalised_std(first)


def simclr() -> SimCLR:
    torch.manual_seed(0)
    return SimCLR(resnet18_encoder(widen_factor=0.125))


def simclr_step(view1: torch.Tensor, view2: torch.Tensor):
    """One forward/backward of SimCLR (DDP, synchronised batch norm) on this rank's shard of the views."""
    model = simclr()
    net = distributed_model(model)
    rows = own_rows(len(view1))
    loss, _, _ = net(view1[rows], view2[rows])
    loss.backward()
    return (loss.detach(), {name: p.grad for name, p in model.named_parameters()},
            {name: b.clone() for name, b in model.named_buffers()})


def both_checks(z1, z2, view1, view2):
    return every_rank((nt_xent_and_gradients(z1, z2), simclr_step(view1, view2)))


@pytest.fixture(scope="module")
def data():
    generator = torch.Generator().manual_seed(2)
    return [torch.randn(BATCH, 16, generator=generator), torch.randn(BATCH, 16, generator=generator),
            torch.rand(BATCH, 1, 16, 16, generator=generator), torch.rand(BATCH, 1, 16, 16, generator=generator)]


@pytest.fixture(scope="module")
def ranks(data):
    """Both checks in one pair of processes (starting them is what costs): [per rank] for each check."""
    per_rank = on_two_ranks(both_checks, *data)
    return [[rank[check] for rank in per_rank] for check in range(2)]


def test_nt_xent_split_over_two_ranks_equals_one_process(data, ranks):
    loss, grad1, grad2, top1, z_std = nt_xent_and_gradients(data[0], data[1])
    for rank_loss, _, _, rank_top1, rank_z_std in ranks[0]:
        torch.testing.assert_close(rank_loss, loss, **TOLERANCE)
        assert rank_top1 == pytest.approx(top1) and rank_z_std == pytest.approx(z_std)
    # Each rank's projections get their rows of the one-process gradient (not world-size times it).
    torch.testing.assert_close(torch.cat([r[1] for r in ranks[0]]), grad1, **TOLERANCE)
    torch.testing.assert_close(torch.cat([r[2] for r in ranks[0]]), grad2, **TOLERANCE)


def test_simclr_with_synchronised_batch_norm_gets_the_one_process_gradients(data, ranks):
    model = simclr()
    loss, _, _ = model(data[2], data[3])
    loss.backward()
    for rank_loss, grads, buffers in ranks[1]:
        torch.testing.assert_close(rank_loss, loss.detach(), **TOLERANCE)
        for name, p in model.named_parameters():
            torch.testing.assert_close(grads[name], p.grad, **MODEL_TOLERANCE, msg=name)
        for name, b in model.named_buffers():
            torch.testing.assert_close(buffers[name], b, **MODEL_TOLERANCE, msg=name)


@pytest.fixture
def slices(tmp_path):
    """32 random float16 slices of 16 x 16 in a .npy file."""
    array = tmp_path / "train.npy"
    np.save(array, np.random.default_rng(0).random((32, 16, 16)).astype(np.float16))
    return array


def tiny_config(**changes) -> PretrainConfig:
    return PretrainConfig(**{"method": "simclr", "batch_size": BATCH, "image_size": 16, "epochs": 2,
                             "widen_factor": 0.125, "seed": 3, "device": "cpu", **changes})


@pytest.mark.parametrize("method", ["simclr", "simsiam"])
def test_two_processes_pretrain_as_one_process_on_the_whole_batch(slices, tmp_path, method):
    # One epoch (4 steps): this tiny training is chaotic, one process on 1 or 2 threads parts by 1e-2
    # after 16 steps from rounding alone, but 4 steps keep the rounding differences below 1e-5.
    config = tiny_config(method=method, epochs=1,
                         augment=AugmentConfig(flip_prob=0.0, max_rotation_deg=0.0, elastic_std_px=0.0))
    one = pretrain(np.load(slices), config, tmp_path / "one")
    two = run_in_processes(2, pretrain_from_file, slices, config, tmp_path / "two", device="cpu")
    for column in ["loss", "contrastive_top1", "z_std", "lr"]:
        np.testing.assert_allclose(two.metrics[column], one.metrics[column], rtol=1e-5, atol=1e-5, err_msg=column)
    for key, value in one.encoder_final.items():
        torch.testing.assert_close(two.encoder_final[key], value, **MODEL_TOLERANCE, msg=key)


def pretrain_killed_in_epoch_two(array_path, config, checkpoint_dir):
    """``pretrain_from_file`` whose rank 1 is killed (SIGKILL) in the middle of epoch 2 (4 batches an
    epoch, 2 augmentation calls a batch); rank 0, waiting for it, is ended by the launcher."""
    real_augment = mrissl.seqclass.train.augment_batch
    calls = {"n": 0}

    def dies_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if process_rank() == 1 and calls["n"] > 2 * 4 + 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_augment(*args, **kwargs)

    mrissl.seqclass.train.augment_batch = dies_in_epoch_two
    return pretrain_from_file(array_path, config, checkpoint_dir)


def test_two_process_pretraining_resumed_after_a_kill_equals_an_uninterrupted_one(slices, tmp_path):
    array, config = slices, tiny_config()
    uninterrupted = run_in_processes(2, pretrain_from_file, array, config, tmp_path / "whole", device="cpu")

    with pytest.raises(ProcessExitedException, match="SIGKILL"):
        run_in_processes(2, pretrain_killed_in_epoch_two, array, config, tmp_path / "killed", device="cpu")
    saved = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    assert saved["epoch"] == 1 and saved["config"]["processes"] == 2

    resumed = run_in_processes(2, pretrain_from_file, array, config, tmp_path / "killed", device="cpu")
    assert resumed.metrics.to_csv(index=False) == uninterrupted.metrics.to_csv(index=False)
    assert list(resumed.metrics["epoch"]) == [1, 2]
    for key, value in uninterrupted.encoder_final.items():
        assert torch.equal(resumed.encoder_final[key], value), key
    assert not torch.equal(uninterrupted.encoder_final["conv1.weight"], uninterrupted.encoder_initial["conv1.weight"])
    # A run started with two processes does not continue with one.
    with pytest.raises(ValueError, match="other settings"):
        mrissl.seqclass.train.pretrain(np.load(array), config, tmp_path / "whole")
