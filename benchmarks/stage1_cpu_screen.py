"""Screen a variant of the stage-1 `cpu` preset with the real training loop and the real scores.

Trains `train_keypoints` on a video folder (the stage-1 demo data, nbs/runs/synth64) with the `cpu`
preset plus JSON overrides, for at most N minutes or the `steps` given, one thread, then scores the
run with `kpvp_nb.evaluate.evaluate_run` (keypoint error vs the mean-pose baseline on the held-out
videos, reconstruction L1 vs copying the source) and appends it to benchmarks/results/stage1_cpu_recipe.json.

    OMP_NUM_THREADS=1 python benchmarks/stage1_cpu_screen.py S4 "separation 1" 9 nbs/runs/synth64 '{"lambda_sep": 1, "steps": 800}' /tmp/s4
"""
import json, shutil, sys, time
from pathlib import Path

import torch

from kpvp_nb.evaluate import evaluate_run
from kpvp_nb.stage1 import get_config, train_keypoints
from kpvp_nb.training import latest_checkpoint

torch.set_num_threads(1)
tag, what, minutes, data, over, run = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5]), Path(sys.argv[6])
shutil.rmtree(run, ignore_errors=True)
t0 = time.time()
train_keypoints(data, run, get_config('cpu', **{'steps': 100_000, **over}), time_limit=minutes * 60, progress=False)
sec = time.time() - t0
res = evaluate_run(run, data)
step = int(latest_checkpoint(run / 'checkpoints').name.split('_')[1])
keys = ('kp_error', 'kp_error_mean_pose', 'kp_error_untrained', 'recon_l1', 'recon_l1_copy', 'mask')
entry = dict(tag=tag, what=what, args=over, history=[dict(step=step, sec=round(sec), **{k: round(res[k], 4) for k in keys if k in res})])
print(json.dumps(entry))
out = Path(__file__).parent / 'results' / 'stage1_cpu_recipe.json'
d = json.loads(out.read_text()); d['runs'].append(entry); out.write_text(json.dumps(d, indent=1))
