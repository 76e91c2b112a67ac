"""``benchmarks/gpu_check.py`` (the script run on a lent GPU) runs, so that it cannot rot between
leases: here on the CPU, with the smallest sizes, every section but the GPU tests (which the
ordinary test run covers), and every section records a result without an error."""

from __future__ import annotations

import json

from benchmarks import gpu_check


def test_the_gpu_check_script_runs_every_section_on_the_cpu(tmp_path):
    gpu_check.main([str(tmp_path), "--device", "cpu", "--archs", "mlp", "--warmup-steps", "2", "--min-steps", "2",
                    "--seconds", "0.01", "--repeats", "1", "--images", "2", "--cli-steps", "20", "--sections", "training,inception,cli"])
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [record["section"] for record in records] == ["device", "training", "training", "inception", "inception",
                                                         "cli", "done"]
    assert not [record for record in records if "error" in record or "skipped" in record]
    training = [record for record in records if record["section"] == "training"]
    for record in training:
        assert {"hand_steps_per_s", "default_steps_per_s", "fast_steps_per_s", "fast+bf16_steps_per_s"} <= set(record)
        assert record["ratio_hand"] == 1 and record["default_step"] == "eager"
    inception = [record for record in records if record["section"] == "inception"]
    assert all(record["max_abs_difference"] <= 1e-4 for record in inception)  # the same state dict in both
    cli = records[-2]
    assert cli["returncode"] == 0 and len(cli["runs"]) == 2
    assert all(run["execution"] == {"step": "eager"} for run in cli["runs"].values())
