"""Does the translator generalise better with more training videos? The stage-1 `cpu` preset on a fresh
synthetic dataset of N videos (seed 1, 5% held out), N minutes on one thread, scored on the held-out
videos of nbs/runs/synth64 (seed 0: figures and scenes no run has seen):

- the stage-1 scores of `kpvp_nb.evaluate.evaluate_run` (keypoint error vs mean pose, reconstruction vs copy);
- the 'oracle' video error: the 32-frame time-normalised continuation of every held-out clip rendered by
  T from its first frame and the keypoints Q finds in the true frames, mean |error| per pixel, next to the
  frozen first frame. It is the best a motion generator can do with this translator.

    OMP_NUM_THREADS=1 python benchmarks/stage1_data_size.py 1400 20 /tmp/big1400 ['{"gap": [1, 11]}']

The dataset goes to RUN_data beside the run folder (a link to an existing one is read as it is).
"""
import json, shutil, sys, time
from pathlib import Path

import numpy as np
import torch

from kpvp_nb.data import VideoFolder
from kpvp_nb.evaluate import evaluate_run
from kpvp_nb.data import time_normalised_indices
from kpvp_nb.metrics import psnr
from kpvp_nb.predict import Predictor, prepare_image
from kpvp_nb.stage1 import get_config, train_keypoints
from kpvp_nb.synthetic import make_synthetic

@torch.no_grad()
def oracle_vs_frozen(run, data, T=32) -> dict:
    "Per-frame mean |error| and PSNR of the oracle rendering and of the frozen first frame over a test split."
    pred, vids = Predictor(run, device='cpu', motion=False), VideoFolder(data, 'test')
    fz, orc, pf, po = [], [], [], []
    for i in range(len(vids)):
        clip = np.stack([prepare_image(f, pred.size) for f in vids.frames(i, time_normalised_indices(vids.n_frames(i), T + 1, 0))])
        vh = pred.render(clip[0], pred.detect(clip[1:]))[0]                     # T(v0, k0, Q(v_t)): the true motion, rendered
        real, vh32 = clip[1:].astype(np.float32), vh.astype(np.float32)
        orc.append(np.abs(vh32 - real).mean((1, 2, 3)) / 255); fz.append(np.abs(clip[:1].astype(np.float32) - real).mean((1, 2, 3)) / 255)
        po.append(np.minimum(psnr(clip[1:], vh), 100.)); pf.append(np.minimum(psnr(clip[1:], np.repeat(clip[:1], T, 0)), 100.))
    fz, orc, pf, po = np.mean(fz, 0), np.mean(orc, 0), np.mean(pf, 0), np.mean(po, 0)
    return dict(oracle_l1=round(float(orc.mean()), 4), frozen_l1=round(float(fz.mean()), 4),
                oracle_psnr=round(float(np.mean(po)), 3), frozen_psnr=round(float(np.mean(pf)), 3),
                oracle_l1_t=[round(float(orc[t]), 4) for t in (0, 3, 7, 15, 31)], frozen_l1_t=[round(float(fz[t]), 4) for t in (0, 3, 7, 15, 31)],
                oracle_psnr_t=[round(float(po[t]), 2) for t in (0, 3, 7, 15, 31)], frozen_psnr_t=[round(float(pf[t]), 2) for t in (0, 3, 7, 15, 31)])

if __name__ == '__main__':
    torch.set_num_threads(1)
    n, minutes, run = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
    over = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    ref = Path(__file__).parent.parent / 'nbs' / 'runs' / 'synth64'
    data = run.parent / f'{run.name}_data'
    t0 = time.time()
    if not (data / 'meta.json').exists(): make_synthetic(data, n, size=64, n_frames=40, seed=1, jitter=0., test_frac=.05, progress=False, workers=1)
    t_data = time.time() - t0
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.time()
    tr = train_keypoints(data, run, get_config('cpu', **{'steps': 100_000, **over}), time_limit=minutes * 60, progress=False)
    res = evaluate_run(run, ref)
    entry = dict(videos=n, args=over, train_videos=len(VideoFolder(data, 'train')), data_sec=round(t_data), steps=tr.step, sec=round(time.time() - t0),
                 **{k: round(res[k], 4) for k in ('kp_error', 'kp_error_mean_pose', 'recon_l1', 'recon_l1_copy', 'mask')}, **oracle_vs_frozen(run, ref))
    print(json.dumps(entry))
    out = Path(__file__).parent / 'results' / 'stage1_data_size.json'
    d = json.loads(out.read_text()) if out.exists() else dict(runs=[])
    d['runs'].append(entry); out.write_text(json.dumps(d, indent=1))
