"""Rule clip_train: the CLIP-style model on the training pairs, best validation epoch kept, resumable
(paper 003, sections 4-5) -> results/clip/model.pt, results/clip/train_metrics.tsv

params.processes (config resources.gpu.gpu) > 1 trains in that many processes, one per GPU
(mrissl.training.run_in_processes); they import this file again, hence the __main__ guard.
"""

import torch

from mrissl.clip.train import TrainConfig, train_clip_from_files
from mrissl.runlog import log_to
from mrissl.training import run_in_processes

if __name__ == "__main__":
    log = log_to(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    settings = snakemake.params.settings
    config = TrainConfig.from_config(settings["train"], settings["model"], settings["augment"], snakemake.params.seed)
    result, checkpoint = run_in_processes(
        snakemake.params.processes, train_clip_from_files,
        snakemake.input.volumes, snakemake.input.index, snakemake.input.splits, snakemake.input.features, config,
        tuple(snakemake.params.voxel_mm), snakemake.params.checkpoint_dir,
        device=config.device, threads=snakemake.threads, log_path=snakemake.log[0],
    )
    torch.save(checkpoint, snakemake.output.model)
    result.metrics.to_csv(snakemake.output.metrics, sep="\t", index=False, float_format="%.6g")
    log.info("best epoch %d of %d", result.best_epoch, len(result.metrics))
