"""The three translator forms (concat, analogy, warp) trained with the real stage-1 loop on the synthetic data, scored on
the held-out split: keypoint error, reconstruction, the oracle video's motion-region error and motion, the mask.

    python benchmarks/stage1_translator_forms.py --data runs/synth64 --forms concat analogy warp --seeds 0 1 --steps 2000

The data: `make_synthetic(root, n_videos=280, size=64, n_frames=40, seed=0, jitter=0.)` (notebook 07's runs/synth64).
Each run is recorded under its name in benchmarks/results/stage1_translator_forms.json (existing entries are kept).
"""
import argparse, fcntl, json, time
from pathlib import Path

import torch

from kpvp_nb.stage1 import get_config, train_keypoints
from kpvp_nb.evaluate import evaluate_run

RESULTS = Path(__file__).parent / 'results' / 'stage1_translator_forms.json'

def run_one(data, out, form, seed, steps, **overrides) -> dict:
    t0 = time.time()
    cfg = get_config('cpu', translator=form, seed=seed, steps=steps, **overrides)
    train_keypoints(data, out, cfg, progress=False)
    t1 = time.time()
    sc = evaluate_run(out, data)
    return dict(form=form, seed=seed, steps=steps, overrides=overrides, train_minutes=round((t1 - t0) / 60, 2), threads=torch.get_num_threads(),
                kp_error_ratio=sc['kp_error'] / sc['kp_error_mean_pose'], **{k: v for k, v in sc.items() if isinstance(v, (int, float))})

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True); ap.add_argument('--runs', default='runs/forms')
    ap.add_argument('--forms', nargs='+', default=['concat', 'analogy', 'warp']); ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    ap.add_argument('--steps', type=int, default=2000); ap.add_argument('--tag', default='')
    ap.add_argument('--set', nargs='*', default=[], help='config overrides key=value (Python literals)')
    a = ap.parse_args()
    import ast
    over = {k: ast.literal_eval(v) for k, v in (s.split('=', 1) for s in a.set)}
    for form in a.forms:
        for seed in a.seeds:
            name = f"{form}-s{seed}-{a.steps}{a.tag}"
            r = run_one(a.data, Path(a.runs) / name, form, seed, a.steps, **over)
            RESULTS.parent.mkdir(exist_ok=True)
            with open(RESULTS.with_suffix('.lock'), 'w') as lock:   # runs in parallel: one read-modify-write at a time
                fcntl.flock(lock, fcntl.LOCK_EX)
                res = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
                res[name] = r
                RESULTS.write_text(json.dumps(res, indent=1))
            print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}, flush=True)
