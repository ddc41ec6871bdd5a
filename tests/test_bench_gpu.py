"""bench/gpu.py: without CUDA (or with --smoke) it runs the three training loops at tiny sizes on the CPU."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.usefixtures("two_torch_threads")


def test_cpu_smoke_run_prints_the_figures_of_every_workload(tmp_path, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_gpu", REPO / "bench" / "gpu.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    bench.main(["--smoke", "--threads", "2", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "CPU smoke run of the same code path" in out
    for workload in ("seqclass", "reportcl", "clip"):
        # images/s, or "noise" where a busy machine made the short run the slower
        assert re.search(rf"^{workload} .* ([\d.]+|noise) +n/a +n/a +1/2 batches in ", out, re.MULTILINE), out
    assert list(tmp_path.iterdir()) == []  # the arrays and checkpoints are gone
