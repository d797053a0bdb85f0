"""Screen a variant of the stage-2 `cpu` preset with the real training loop and the real scores.

Copies a trained stage-1 run (its config, last checkpoint and pseudo-labels, not its motion/) to a
scratch folder, trains `train_motion` there with the `cpu` preset plus JSON overrides for the steps
given or at most N minutes, one thread, scores it with `kpvp_nb.evaluate.motion_scores` (class
accuracy of generated futures against chance and real clips, diversity, statistics) and appends
the result to benchmarks/results/stage2_cpu_recipe.json.

    OMP_NUM_THREADS=1 python benchmarks/stage2_cpu_screen.py R1 "residual" 20 nbs/runs/pipeline nbs/runs/synth64 '{"residual": true, "steps": 1000}' /tmp/r1
"""
import json, shutil, sys, time
from pathlib import Path

import torch

from kpvp_nb.evaluate import motion_scores
from kpvp_nb.stage2 import get_config, train_motion
from kpvp_nb.training import latest_checkpoint

torch.set_num_threads(1)
tag, what, minutes, stage1, data, over, run = (sys.argv[1], sys.argv[2], float(sys.argv[3]), Path(sys.argv[4]), sys.argv[5],
                                               json.loads(sys.argv[6]), Path(sys.argv[7]))
shutil.rmtree(run, ignore_errors=True); (run / 'checkpoints').mkdir(parents=True)
for f in ('config.json', 'classes.json', 'log.csv'): shutil.copy(stage1 / f, run / f)
shutil.copytree(latest_checkpoint(stage1 / 'checkpoints'), run / 'checkpoints' / latest_checkpoint(stage1 / 'checkpoints').name)
shutil.copytree(stage1 / 'keypoints', run / 'keypoints')
t0 = time.time()
train_motion(run, None, get_config('cpu', **{'steps': 100_000, **over}), time_limit=minutes * 60, progress=False)
sec = time.time() - t0
res = motion_scores(run, data)
step = int(latest_checkpoint(run / 'motion' / 'checkpoints').name.split('_')[1])
keys = ('chance', 'acc_real_joints', 'acc_real_keypoints', 'acc_generated', 'acc_real_keypoints_kpclf', 'acc_generated_kpclf',
        'acc_generated_kpclf_own_class', 'acc_generated_kpclf_other_class', 'diversity', 'diversity_real_same_class')
entry = dict(tag=tag, what=what, stage1=str(stage1), args=over, step=step, sec=round(sec),
             **{k: round(res[k], 4) for k in keys if k in res}, stats={k: v for k, v in res.items() if k.startswith('stats')})
print(json.dumps(entry))
out = Path(__file__).parent / 'results' / 'stage2_cpu_recipe.json'
d = json.loads(out.read_text()) if out.exists() else dict(note='', runs=[])
d['runs'].append(entry); out.write_text(json.dumps(d, indent=1))
