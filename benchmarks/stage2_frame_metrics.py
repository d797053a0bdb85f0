"""Frame-level scores of the whole pipeline for a stage-2 variant: the motion a generator draws decides how
it fares against the frozen first frame. Copies a finished stage-1 run (with its pseudo-labels) to RUN,
trains the stage-2 `cpu` preset with some fields replaced for 6,000 steps (unless the fields say otherwise),
then scores it the way notebook 14 does (motion_scores, and evaluate_predictions with 4 samples: PSNR,
SSIM, L1 against frozen and oracle, and the model's PSNR per frame) and scores the mode (temperature 0).

    python benchmarks/stage2_frame_metrics.py nbs/runs/pipeline nbs/runs/synth1400 /tmp/r2 '{"repeat_input": false, "gan_on_prior": 0}'
"""
import json, shutil, sys, time
from pathlib import Path

import numpy as np

from kpvp_nb.metrics import psnr
from kpvp_nb.evaluate import evaluate_predictions, format_predictions, motion_scores, format_motion_scores
from kpvp_nb.stage2 import train_motion, get_config

if __name__ == '__main__':
    src, data, run = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    over = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    shutil.rmtree(run, ignore_errors=True); run.mkdir(parents=True)
    for f in ('config.json', 'classes.json', 'log.csv', 'checkpoints', 'keypoints'):      # stage 1 and its pseudo-labels, not motion/
        (shutil.copytree if (src / f).is_dir() else shutil.copy)(src / f, run / f)
    t = time.time()
    train_motion(run, None, get_config('cpu', **{'steps': 6000, **over}), progress=False)
    sec = time.time() - t
    ms = motion_scores(run, data, n_samples=4); print(format_motion_scores(ms), flush=True)
    r = evaluate_predictions(run, data, samples=4, metrics=('psnr', 'ssim', 'l1'), progress=False, return_videos=True)
    v = r.pop('videos'); print(format_predictions(r))
    pm = np.mean([np.minimum(psnr(v['real'][:, 1:], v['fake'][:, s]), 100).mean(0) for s in range(v['fake'].shape[1])], 0)
    pf = np.minimum(psnr(v['real'][:, 1:], v['frozen']), 100).mean(0)
    r0 = evaluate_predictions(run, data, samples=1, metrics=('psnr', 'ssim', 'l1'), progress=False, oracle=False, temperature=0.)
    print(format_predictions(r0))
    entry = dict(stage1=str(src), args=over, stage2_sec=round(sec), motion=ms, video=r, video_mode=dict(model=r0['model'], frozen=r0['frozen']),
                 psnr_t=dict(t=[1, 2, 4, 8, 16, 24, 32], model=[round(float(pm[t - 1]), 2) for t in (1, 2, 4, 8, 16, 24, 32)],
                             frozen=[round(float(pf[t - 1]), 2) for t in (1, 2, 4, 8, 16, 24, 32)]))
    out = Path(__file__).parent / 'results' / 'stage2_frame_metrics.json'
    d = json.loads(out.read_text()) if out.exists() else dict(runs=[])
    d['runs'].append(entry); out.write_text(json.dumps(d, indent=1, default=float))
