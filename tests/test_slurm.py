"""Workflows through a real one-node Slurm: every job submitted and COMPLETED, GPU jobs given a GPU.

tests/slurm/local_cluster.sh installs Debian's Slurm and starts it (one node, one GPU without a device,
accounting so that sacct answers). That needs root, which CI has; elsewhere, or when the cluster cannot
start, the tests are skipped with the reason (MRISSL_REQUIRE_SLURM=1 turns that into a failure).

The run uses the shipped profile with the test overrides on top:
    snakemake --profile profiles/slurm --profile tests/slurm/profile --configfile config/tiny.yaml
A GPU job is one whose resources, as Snakemake prints them when it submits the job, ask for `gpu`
(or a `gres` gpu:N); in this workflow only resources_of("gpu") does. sacct must then show gres/gpu=N
for exactly those jobs.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEMAKE, copy_repository, copy_run, run_snakemake

pytestmark = pytest.mark.slurm

CLUSTER = REPO / "tests/slurm/local_cluster.sh"
SLURM_LOGS = [Path("/var/log/slurm/slurmctld.log"), Path("/var/log/slurm/slurmd.log")]
PROFILES = ["--profile", "profiles/slurm", "--profile", "tests/slurm/profile"]
TINY = ["--configfile", "config/tiny.yaml"]
TOY = ["--snakefile", "tests/slurm/toy/Snakefile"]
# Rules that Snakemake runs in its own process by design: the default target, which has no command.
LOCAL_RULES = {"all"}
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL"}


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def cluster_diagnostics(workdir: Path | None = None) -> str:
    """sinfo, the daemons' logs and the Slurm job logs of a run, for a failure message."""
    parts = [subprocess.run(["sinfo", "-N", "-l"], capture_output=True, text=True).stdout]
    logs = list(SLURM_LOGS)
    if workdir is not None:  # the Slurm logs of the last jobs, the failed one among them
        logs += sorted((workdir / ".snakemake/slurm_logs").rglob("*.log"), key=lambda p: p.stat().st_mtime)[-3:]
    for log in logs:
        if log.is_file():
            parts.append(f"--- last lines of {log}\n{tail(log.read_text(errors='replace'), 25)}")
    return "\n".join(parts)


def cluster_unavailable(reason: str):
    if os.environ.get("MRISSL_REQUIRE_SLURM") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def cluster_command(action: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CLUSTER), action], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def slurm_cluster():
    """The local one-node cluster, started for this module and stopped after it."""
    if os.geteuid() != 0:
        cluster_unavailable(f"needs root: {CLUSTER.relative_to(REPO)} installs Debian's Slurm and starts its daemons")
    started = cluster_command("start")
    if started.returncode != 0:
        cluster_command("stop")
        cluster_unavailable(
            f"the local Slurm did not start ({CLUSTER.relative_to(REPO)} start, exit {started.returncode}):\n"
            f"{tail(started.stderr, 80)}"
        )
    yield
    stopped = cluster_command("stop")
    assert stopped.returncode == 0, f"{CLUSTER.relative_to(REPO)} stop failed:\n{stopped.stderr}"


@dataclass
class Job:
    """A job of a Snakemake run: its rule, the GPUs it asked for, its Slurm job id (None if not submitted)."""

    rule: str
    gpus: int
    slurm_id: str | None = None


def requested_gpus(resources: str) -> int:
    """GPUs in the `resources:` line Snakemake prints for a job: gpu=N, or gres=gpu[:type]:N."""
    gpu = re.search(r"(?:^|, )gpu=(\d+)", resources)
    if gpu:
        return int(gpu.group(1))
    gres = re.search(r"(?:^|, )gres=gpu(?::[\w.]+)*", resources)
    if gres:
        count = gres.group(0).rsplit(":", 1)[-1]
        return int(count) if count.isdigit() else 1
    return 0


def jobs_of_run(output: str) -> tuple[dict[str, Job], set[str]]:
    """Snakemake's jobs (by its job id) submitted to Slurm, and the rules it ran locally instead."""
    jobs, local_rules = {}, set()
    for block in re.finditer(r"^(local)?(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n)*)", output, re.M):
        is_local, rule, body = block.groups()
        if is_local:
            local_rules.add(rule)
            continue
        jobid = re.search(r"^\s+jobid: (\d+)$", body, re.M).group(1)
        resources = re.search(r"^\s+resources: (.*)$", body, re.M)
        jobs[jobid] = Job(rule, requested_gpus(resources.group(1) if resources else ""))
    for jobid, slurm_id in re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output):
        jobs[jobid].slurm_id = slurm_id
    return jobs, local_rules


def sacct_records(run_id: str, since: str, expected: int) -> dict[str, dict[str, str]]:
    """sacct's records of the run's jobs by Slurm job id, once all are final (slurmdbd may lag)."""
    fields = ["JobID", "JobName", "State", "AllocTRES", "Comment"]
    deadline = time.monotonic() + 60
    while True:
        proc = subprocess.run(
            ["sacct", "-n", "-P", "-X", "--name", run_id, "--starttime", since, "-o", ",".join(fields)],
            capture_output=True, text=True,
        )
        assert proc.returncode == 0, f"sacct failed: {proc.stderr}"
        records = {r["JobID"]: r for r in (dict(zip(fields, line.split("|"))) for line in proc.stdout.splitlines())}
        settled = len(records) >= expected and all(r["State"].split()[0] in FINAL_STATES for r in records.values())
        if settled or time.monotonic() > deadline:
            return records
        time.sleep(2)


def run_through_slurm(workdir: Path, *args: str) -> str:
    """Run Snakemake with the Slurm profiles; check every job went through Slurm correctly; return the log."""
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 60))
    command = [SNAKEMAKE, *PROFILES, *args]
    try:
        proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{' '.join(command)} did not finish in 900 s:\n{tail(str(expired.stderr), 80)}\n{cluster_diagnostics(workdir)}")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, (
        f"{' '.join(command)} failed ({proc.returncode}):\n{tail(output, 120)}\n{cluster_diagnostics(workdir)}"
    )

    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    jobs, local_rules = jobs_of_run(output)
    assert local_rules <= LOCAL_RULES, f"rules run outside Slurm: {sorted(local_rules - LOCAL_RULES)}"
    assert jobs, f"no job was submitted:\n{tail(output)}"
    unsubmitted = sorted(job.rule for job in jobs.values() if job.slurm_id is None)
    assert not unsubmitted, f"jobs never submitted to Slurm: {unsubmitted}"

    records = sacct_records(run_id, since, len(jobs))
    submitted = {job.slurm_id for job in jobs.values()}
    assert set(records) == submitted, (
        f"sacct shows jobs {sorted(records)} of run {run_id}; Snakemake submitted {sorted(submitted)}"
    )
    for job in jobs.values():
        record = records[job.slurm_id]
        where = f"Slurm job {job.slurm_id} (rule {job.rule}): {record}"
        assert record["State"] == "COMPLETED", where
        assert re.fullmatch(rf"rule_{job.rule}(_wildcards_.*)?", record["Comment"]), where
        granted = re.search(r"gres/gpu=(\d+)", record["AllocTRES"])
        assert (int(granted.group(1)) if granted else 0) == job.gpus, (
            f"asked for {job.gpus} GPU(s), Slurm allocated {record['AllocTRES']}: {where}"
        )
    kinds = {job.rule: job.gpus > 0 for job in jobs.values()}
    assert any(kinds.values()), f"no job asked for a GPU (rules: {sorted(kinds)}); GPU rules use resources_of('gpu')"
    assert not all(kinds.values()), f"every job asked for a GPU (rules: {sorted(kinds)})"
    return output


def tables(workdir: Path) -> dict[str, bytes]:
    root = workdir / "results/tables"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_tables(slurm_dir: Path, local_dir: Path):
    through_slurm, local = tables(slurm_dir), tables(local_dir)
    assert through_slurm, f"the Slurm run wrote no table under {slurm_dir}/results/tables"
    missing = sorted(set(through_slurm) - set(local))
    assert not missing, f"tables of the Slurm run that the local run lacks: {missing}"
    differ = sorted(name for name in through_slurm if through_slurm[name] != local[name])
    assert not differ, f"tables that differ between the Slurm run and the local run: {differ}"


def test_toy_workflow_through_slurm(slurm_cluster, tmp_path):
    slurm_dir = copy_repository(tmp_path / "slurm")
    run_through_slurm(slurm_dir, *TOY, *TINY)
    # Slurm bound the declared GPU to the GPU job.
    assert (slurm_dir / "logs/toy/square.log").read_text().strip() == "CUDA_VISIBLE_DEVICES=0"
    local_dir = copy_repository(tmp_path / "local")
    run_snakemake(local_dir, *TOY, "--cores", "2", *TINY)
    assert_same_tables(slurm_dir, local_dir)


# The pipeline's own rules through Slurm, on a copy of the finished tiny run: one GPU job of each study
# loses an output, so it and what follows it up to that study's table run again through Slurm; the rest
# is taken as made (the whole default target, ~150 jobs of ~10 s each through Slurm, would be too long
# for every CI run). GPU job -> the table it feeds.
TINY_PX = yaml.safe_load((REPO / "config/tiny.yaml").read_text())["seqclass"]["batch_sweep"]["image_size"]
PIPELINE_REMADE = {
    f"results/seqclass/internal/finetune/scratch_px{TINY_PX}/seed1/fraction1.pt": "results/tables/seqclass_baselines.csv",
    "results/reportcl/downstream/random/per_fold.tsv": "results/tables/reportcl_table1.csv",
    "results/longitudinal/grading/scratch/results.tsv": "results/tables/longitudinal_grading.csv",
    "results/clip/image_baseline.tsv": "results/tables/clip_zeroshot.csv",
}


def test_pipeline_through_slurm(slurm_cluster, tiny_run, tmp_path):
    slurm_dir = copy_run(tiny_run, tmp_path / "slurm")
    # A missing intermediate alone is not remade while the tables are up to date: remove both. The
    # seqclass table reads the test accuracies, so they go too (the fine-tuned model is what they need).
    seqclass_accuracy = f"results/seqclass/internal/evaluate/scratch_px{TINY_PX}/seed1/accuracy.tsv"
    for path in [*PIPELINE_REMADE, *PIPELINE_REMADE.values(), seqclass_accuracy]:
        (slurm_dir / path).unlink()
    # Targets first: --configfile takes every value that follows it.
    output = run_through_slurm(slurm_dir, *PIPELINE_REMADE.values(), *TINY)
    jobs, _ = jobs_of_run(output)
    gpu_rules = {job.rule for job in jobs.values() if job.gpus}
    assert {rule.split("_")[0] for rule in gpu_rules} == {"seqclass", "reportcl", "longitudinal", "clip"}, gpu_rules
    assert_same_tables(slurm_dir, tiny_run)
