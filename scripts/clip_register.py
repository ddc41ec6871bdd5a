"""Rule clip_register: DWI and T2* registered to FLAIR, stacked 3-channel volumes + index + QC; unusable reports quarantined."""

import numpy as np
import pandas as pd

from mrissl.clip.curation import INDEX_COLUMNS, curate_clip_cohort
from mrissl.clip.registration import QC_COLUMNS, OutputGrid, RegistrationSettings
from mrissl.manifest import QUARANTINE_COLUMNS, read_manifest, write_table
from mrissl.readers.reports import read_reports
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
clip = snakemake.params.clip
reports, reports_quarantine = read_reports(snakemake.input.reports, ["subject", "session"], snakemake.params.salt)
write_table(reports_quarantine, snakemake.output.reports_quarantine, QUARANTINE_COLUMNS)
index, qc, preview = curate_clip_cohort(
    read_manifest(snakemake.input.manifest),
    reports,
    pd.read_csv(snakemake.input.labels, sep="\t", dtype=str, keep_default_na=False),
    pd.read_csv(snakemake.input.motion, sep="\t", dtype={"subject": str, "session": str}),
    salt=snakemake.params.salt,
    source=snakemake.params.source,
    grid=OutputGrid(tuple(clip["volume_shape"]), tuple(clip["voxel_mm"])),
    settings=RegistrationSettings.from_config(clip["registration"], seed=snakemake.params.seed),
    array_path=snakemake.output.volumes,
    workers=snakemake.threads,
    preview_studies=clip["preview_studies"],
)
write_table(index, snakemake.output.index, INDEX_COLUMNS)
write_table(qc, snakemake.output.qc, QC_COLUMNS)
with open(snakemake.output.preview, "wb") as handle:  # a file handle: np.savez would add .npz to the name
    np.savez(handle, **preview)
log.info("%d studies registered and stacked", len(index))
