"""The workflow passes Snakemake's linter and snakefmt, as the maintainers of snakemake-workflows ask."""

from __future__ import annotations

import subprocess

from conftest import BIN, REPO, copy_repository, run_snakemake


def test_snakemake_lint_is_clean(tmp_path):
    work = copy_repository(tmp_path / "repo")  # lint writes .snakemake/: keep it out of the checkout
    proc = run_snakemake(work, "--lint", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Congratulations, your workflow is in a good condition!" in output, output


def test_snakefmt_check_is_clean():
    proc = subprocess.run([str(BIN / "snakefmt"), "--check", "--diff", "Snakefile", "workflow/rules"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
