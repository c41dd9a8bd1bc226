"""`--ray`: the same conversion on a local Ray instance (two model actors) gives the single-process output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convert.tree import FAST, build, snapshot
from lsp_server.cli.batch.journal import JOURNAL_NAME
from lsp_server.cli.main import main

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_output_equals_single_process_output(tmp_path: Path, capsys, local_ray):
    src = tmp_path / "src"
    build(src, modules=3, js=1, awkward=False)
    args = ["convert", str(src), "--instruction", "Add type hints.", "--batch-size", "4", *FAST, "--json"]
    assert main([*args, "--out", str(tmp_path / "single")]) == 0
    single = json.loads(capsys.readouterr().out)
    assert main([*args, "--out", str(tmp_path / "ray"), "--ray", "local", "--ray-actors", "2"]) == 0
    distributed = json.loads(capsys.readouterr().out)
    a = {k: v for k, v in snapshot(tmp_path / "single").items() if k != JOURNAL_NAME}
    b = {k: v for k, v in snapshot(tmp_path / "ray").items() if k != JOURNAL_NAME}
    assert a == b and len(a) == 4
    assert single["summary"]["units"] == distributed["summary"]["units"]
    assert single["summary"]["units"]["changed"] > 0, "nothing changed: the comparison would prove little"
    assert single["summary"]["tokens"] == distributed["summary"]["tokens"]


def test_actor_plan_puts_one_actor_per_gpu_else_per_cpu_slot():
    from lsp_server.cli.batch.ray_runner import actor_plan

    assert actor_plan({"CPU": 16, "GPU": 4}, 0, 0) == (4, {"num_gpus": 1, "num_cpus": 1})
    assert actor_plan({"CPU": 8}, 2, 0) == (4, {"num_cpus": 2})
    assert actor_plan({"CPU": 8}, 0, 3) == (3, {"num_cpus": 1})
