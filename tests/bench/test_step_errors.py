"""bench/step_errors.py: the error after each refinement step ends at the test error."""

import importlib.util

import pytest
from helpers import ROOT, compose_cfg

from seqattn.data import build_datamodule
from seqattn.inference import load_checkpoint


def test_bench_step_errors_end_at_the_test_error(tiny_run, tmp_path):
    spec = importlib.util.spec_from_file_location("step_errors", ROOT / "bench" / "step_errors.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    summary, _ = tiny_run
    module = load_checkpoint(summary.best_checkpoint).eval()
    datamodule = build_datamodule(compose_cfg(tmp_path).data, module.geometry, augment=False)
    datamodule.setup("test")
    errors = bench.step_errors(module, datamodule.test_dataloader())
    steps = [str(t) for t in range(1 + module.model.steps)]  # step 0 and every refinement step
    assert list(errors) == steps + (["flip-averaged"] if module.flip_pairs is not None else [])
    reported = list(errors.values())[-1]
    assert reported.mean().item() == pytest.approx(summary.test_metrics["test/epe_px"], rel=1e-4)
