"""Rule phantom_external_site: one external site of the seqclass transfer experiment, in its public layout."""

from pathlib import Path

from mrissl.phantoms.external_sites import ExternalSiteConfig, generate_external_site
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])
site = snakemake.wildcards.site
n_series = generate_external_site(
    ExternalSiteConfig.from_config(site, snakemake.params.site), site, snakemake.params.seed,
    Path(snakemake.output.data),
)
log.info("%s: %d series written to %s", site, n_series, snakemake.output.data)
