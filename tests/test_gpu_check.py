"""benchmarks/gpu_check.py without a GPU: it refuses in one line with exit status 2, and its pieces import and add up."""
import importlib.util, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'benchmarks' / 'gpu_check.py'

def load():
    spec = importlib.util.spec_from_file_location('gpu_check', SCRIPT)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

def test_refuses_without_a_gpu(tmp_path):
    out = tmp_path / 'gpu_check.json'
    r = subprocess.run([sys.executable, str(SCRIPT), '--out', str(out)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''})           # no GPU, even on a machine that has one
    assert r.returncode == 2, r.stdout + r.stderr
    err = [l for l in r.stderr.splitlines() if l.strip()]
    assert err and err[-1].startswith('gpu_check: error: no CUDA device') and 'Traceback' not in r.stderr, r.stderr
    assert not out.exists()                                                       # nothing written

def test_pieces():
    m = load()
    assert m.peak_bf16_tflops('NVIDIA H100 80GB HBM3') == 989.4 and m.peak_bf16_tflops('NVIDIA H200') == 989.4
    assert m.peak_bf16_tflops('NVIDIA H100 PCIe') == 756. and m.peak_bf16_tflops('NVIDIA L40S') == 362.1
    assert m.peak_bf16_tflops('NVIDIA A100-SXM4-80GB') == 312. and m.peak_bf16_tflops('Some Future GPU') is None
    assert m.decreasing([5, 4, 4, 3, 2, 1]) is True and m.decreasing([1, 2, 3, 4, 5, 6]) is False and m.decreasing([1, 2]) is None
    rows = [dict(step=s, sec=0.1 * s) for s in range(10, 110, 10)] + [dict(step=s, sec=0.2 * (s - 100)) for s in range(110, 210, 10)]
    assert abs(m.steady_sec_per_step(rows) - 0.2) < 1e-9                        # the session after a resume, not across it
    assert sum(m.BUDGET_S.values()) + 60 <= m.TOTAL_S <= 480                      # eight minutes, with a minute for start-up
    m.stage1_config('bf16', 'random', 300, 4)                                     # a valid paper config at 128x128
    from kpvp_nb.fvd import fvd                                                   # what the later phases use
    from kpvp_nb.i3d_weights import load_i3d
    from kpvp_nb.pseudolabels import extract_keypoints
    from kpvp_nb.predict import Predictor
    from kpvp_nb.stage2 import train_motion
