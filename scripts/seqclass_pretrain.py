"""Rule seqclass_pretrain: SimCLR or SimSiam on the training images (and their series, for positives: series) -> encoders (epoch 0, final) + metrics.csv

Resumes from params.checkpoint_dir (last.pt) when a killed job is started again; the folder is
removed once the outputs are written, so a later re-run (new code, new data) trains afresh.
params.processes (config resources.gpu.gpu) > 1 trains in that many processes, one per GPU
(mrissl.training.run_in_processes); they import this file again, hence the __main__ guard.
"""

import shutil

import torch

from mrissl.runlog import log_to
from mrissl.seqclass.train import PretrainConfig, pretrain_from_file
from mrissl.training import run_in_processes

if __name__ == "__main__":
    log = log_to(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)

    config = PretrainConfig.from_dict(snakemake.params.settings)
    run = "{method}_b{batch}_px{px}".format(**snakemake.wildcards)
    log.info("%s: %s", run, config)
    result = run_in_processes(snakemake.params.processes, pretrain_from_file, snakemake.input.array, config,
                              snakemake.params.checkpoint_dir, snakemake.input.index, device=config.device,
                              threads=snakemake.threads,
                              log_path=snakemake.log[0])

    torch.save(result.encoder_initial, snakemake.output.encoder_epoch0)
    torch.save(result.encoder_final, snakemake.output.encoder_final)
    result.metrics.to_csv(snakemake.output.metrics, index=False, lineterminator="\n")
    shutil.rmtree(snakemake.params.checkpoint_dir)
