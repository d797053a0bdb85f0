"""How much of the oracle's error is the translator's: a trained stage-1 run's oracle video (notebook 14) against the
same keypoints rendered by the bare Gaussian motion field (`motion_field` without the learned refinement, no mask, no
correction: nothing trained but the detector), at several reaches sigma_w, by frame gap. Two more take the trained
translator apart: `field only` is v0 read along its motion field (the Gaussian weights plus the learned refinement)
and `s only` its generated image s = v0 o T + Delta, both without the mask's blend. With `--joints` the bare field is
also driven by the dataset's true joints (`joints <std>`): the best that per-point translations do with perfect points.

    python benchmarks/stage1_free_warp.py --data runs/synth64 --runs runs/forms/warp-s0-3000-qlr3 runs/forms/warp-s1-3000-qlr3

Scores: motion_l1 over the frozen frame's (1 = no better than not moving) and motion over the truth's (1 = as much),
on every held-out video, frames 1..32 of its time-normalised clip. Recorded under the run's name in
benchmarks/results/stage1_free_warp.json (existing entries are kept).
"""
import argparse, json
from pathlib import Path

import numpy as np
import torch

from kpvp_nb.datasets import open_split
from kpvp_nb.evaluate import draw_augment, time_normalised_indices, to_tensor, to_uint8
from kpvp_nb.metrics import motion_l1, video_motion
from kpvp_nb.stage1 import load_stage1
from kpvp_nb.translator import motion_field, warp
from kpvp_nb.video import pixels_to_kp

RESULTS = Path(__file__).parent / 'results' / 'stage1_free_warp.json'
GAPS = ((1, 7), (8, 11), (12, 20), (21, 32))   # frame gaps to the source; the stage-1 pairs are 8-11 apart

@torch.no_grad()
def score_run(run, data, stds, joint_stds=(), n_frames=32) -> dict:
    Q, T, cfg = load_stage1(run)
    train = open_split(data, 'train'); test = open_split(data, 'test', train.classes)
    if joint_stds and not test.has_keypoints: raise SystemExit(f"{data}: --joints needs joints in the held-out split")
    real, rendered = [], {'trained': [], 'field only': [], 's only': []} | {f'free {s}': [] for s in stds} | {f'joints {s}': [] for s in joint_stds}
    img = lambda t: to_uint8(t.clamp(-1, 1))
    for i in range(len(test)):
        idx = time_normalised_indices(test.n_frames(i), n_frames + 1, 0)
        fr = test.frames(i, idx); aug = draw_augment(*fr.shape[1:3], cfg.size, train=False)
        clip = np.stack([aug.frame(f) for f in fr]); x = torch.stack([to_tensor(f) for f in clip])
        k = Q(x).kp.float()                                              # the detector's points of every true frame
        real.append(clip)
        v0, k0 = x[:1].expand(n_frames, -1, -1, -1), k[:1].expand(n_frames, -1, -1)
        f = T.encode(x[:1]).expand(n_frames, -1, -1, -1)                 # f(v0), once, as `render` does
        grid, _, occ = T.motion(f, k0, k[1:])                             # the trained field: Gaussian weights + refinement
        o = T.decode(T.condition(f, k0, k[1:], grid), v0, grid, occ)      # the oracle video of `oracle_scores`
        rendered['trained'].append(img(o.v_hat)); rendered['s only'].append(img(o.s))
        rendered['field only'].append(img(warp(v0, grid)))
        for s in stds:                                                   # v0 read along the bare field, nothing else
            rendered[f'free {s}'].append(img(warp(v0, motion_field(k0, k[1:], cfg.size, s)[0])))
        if joint_stds:                                                   # the true joints (off the frame: NaN -> 0)
            j = torch.nan_to_num(torch.from_numpy(pixels_to_kp(aug.points(test.keypoints(i)[idx]), cfg.size)).float())
            for s in joint_stds:
                rendered[f'joints {s}'].append(img(warp(v0, motion_field(j[:1].expand(n_frames, -1, -1), j[1:], cfg.size, s)[0])))
    real = np.stack(real); src = real[:, 0]
    gaps = np.asarray(idx[1:]) - idx[0]
    frozen = motion_l1(real[:, 1:], np.repeat(real[:, :1], n_frames, 1), src)
    real_motion = video_motion(real[:, 1:], src).mean()
    out = dict(warp_std=cfg.warp_std, steps=cfg.steps, n_videos=len(real))
    for name, fake in rendered.items():
        e = motion_l1(real[:, 1:], np.stack(fake), src)
        out[name] = dict(motion_l1_ratio=float(np.nanmean(e) / np.nanmean(frozen)),
                         motion_ratio=float(video_motion(np.stack(fake), src).mean() / real_motion),
                         by_gap={f'{a}-{b}': float(np.nanmean(e[:, (gaps >= a) & (gaps <= b)]) / np.nanmean(frozen[:, (gaps >= a) & (gaps <= b)]))
                                 for a, b in GAPS})
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True); ap.add_argument('--runs', nargs='+', required=True)
    ap.add_argument('--stds', nargs='+', type=float, default=[0.08, 0.15, 0.2, 0.3, 0.4, 0.6])
    ap.add_argument('--joints', nargs='*', type=float, default=[], help='reaches of the bare field driven by the true joints')
    a = ap.parse_args()
    torch.set_num_threads(1)
    for run in a.runs:
        r = score_run(run, a.data, a.stds, a.joints)
        res = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        res[Path(run).name] = r
        RESULTS.write_text(json.dumps(res, indent=1))
        for k, v in r.items():
            if isinstance(v, dict): print(Path(run).name, f"{k:10s}", f"motion_l1 {v['motion_l1_ratio']:.3f} motion {v['motion_ratio']:.3f}",
                                          {g: round(x, 3) for g, x in v['by_gap'].items()}, flush=True)
