"""Rule clip_image_baseline: the image-only classifier (same encoder, report-derived classes, same
splits) and its test predictions -> results/clip/image_baseline.tsv, image_baseline_metrics.tsv

params.processes (config resources.gpu.gpu) > 1 trains in that many processes, one per GPU
(mrissl.training.run_in_processes); they import this file again, hence the __main__ guard.
"""

import dataclasses

import torch

from mrissl.clip.train import TrainConfig, image_baseline_from_files
from mrissl.runlog import log_to
from mrissl.training import run_in_processes

if __name__ == "__main__":
    log = log_to(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    settings = snakemake.params.settings
    config = TrainConfig.from_config(settings["train"], settings["model"], settings["augment"], snakemake.params.seed)
    config = dataclasses.replace(config, epochs=snakemake.params.epochs)
    result, predictions = run_in_processes(
        snakemake.params.processes, image_baseline_from_files,
        snakemake.input.volumes, snakemake.input.index, snakemake.input.splits, config,
        tuple(snakemake.params.voxel_mm), snakemake.params.checkpoint_dir,
        device=config.device, threads=snakemake.threads, log_path=snakemake.log[0],
    )
    predictions.to_csv(snakemake.output.predictions, sep="\t", index=False)
    result.metrics.to_csv(snakemake.output.metrics, sep="\t", index=False, float_format="%.6g")
    log.info("best epoch %d of %d; %d test predictions", result.best_epoch, len(result.metrics), len(predictions))
