"""Where the oracle's error sits on the synthetic data: the motion-region error split into the pixels the figure uncovers
(covered in the source frame, background in the target: no warp of v0 can produce them) and the rest (the figure at its
new place, and background the figure now covers). Then two ceilings that need no training:

- richer motion from the points alone: the bare field of local translations against one of local affine maps, each
  keypoint's 2x2 map fitted by weighted least squares to its neighbours' offsets (a function of k and k' only, so the
  motion generator's keypoints could drive it);
- inpainting: the uncovered pixels, known exactly from the renderer's figure masks, filled with the truth (the ceiling of
  any inpainting), a Gaussian blur of v0, or v0's background spread into the figure from the true joints' surroundings.

A run trained with `occlusion=True` (notebook 04) gets one more row, `field + learned fill`: v0 read along the field and
filled with the blur where the translator's own occlusion map says so, without the mask and the correction.

    python benchmarks/stage1_occlusion.py --data runs/synth64 --runs runs/forms/warp-s0-2000-qlr3 runs/forms/warp-s1-2000-qlr3
    python benchmarks/stage1_occlusion.py --data runs/synth64 --runs runs/forms/warp-s0-2000-qlr3-occ runs/forms/warp-s1-2000-qlr3-occ

The data must come from `make_synthetic` (its meta.json names each video's seed, so the figure masks are rendered
again). Errors are pooled over the motion-region pixels of all held-out videos (frames 1..32 of the time-normalised
clips) and given as fractions of the frozen frame's pooled error, so the two parts of a row add up to its total.
Recorded under the run's name in benchmarks/results/stage1_occlusion.json (existing entries are kept).
"""
import argparse, json
from pathlib import Path

import numpy as np
import torch

from kpvp_nb.datasets import open_split
from kpvp_nb.evaluate import time_normalised_indices, to_tensor, to_uint8
from kpvp_nb.keypoints import coord_grid, gaussian_maps
from kpvp_nb.metrics import motion_mask
from kpvp_nb.stage1 import load_stage1
from kpvp_nb.synthetic import render_video
from kpvp_nb.translator import blur, fill_occluded, motion_field, warp
from kpvp_nb.video import pixels_to_kp

RESULTS = Path(__file__).parent / 'results' / 'stage1_occlusion.json'

def local_affine(kp, kp_t, tau=0.2, lam=1e-2):
    "B_j [B,K,2,2], target offsets -> reference offsets: argmin sum_i w_ji |(k_i-k_j) - B (k'_i-k'_j)|^2 + lam |B - I|^2."
    d, d_t = kp[:, None] - kp[:, :, None], kp_t[:, None] - kp_t[:, :, None]   # [B,K(j),K(i),2]
    w = torch.exp(-d_t.pow(2).sum(-1) / (2 * tau ** 2))                     # neighbours near k'_j count most
    eye = lam * torch.eye(2, dtype=kp.dtype)
    return (torch.einsum('bji,bjic,bjid->bjcd', w, d, d_t) + eye) @ torch.linalg.inv(torch.einsum('bji,bjic,bjid->bjcd', w, d_t, d_t) + eye)

def affine_field(kp, kp_t, size, std, **kw):
    "Like `motion_field` without refinement, but pixel u near k'_j reads the reference at k_j + B_j (u - k'_j)."
    g = coord_grid(size, kp.device, kp.dtype)
    u = torch.stack([g.expand(size, size), g[:, None].expand(size, size)], -1)   # [h,w,2]
    d2 = (u - kp_t[:, :, None, None]).pow(2).sum(-1)
    wts = torch.cat([torch.full_like(d2[:, :1], -1.), -d2 / (2 * std ** 2)], 1).softmax(1)
    src = kp[:, :, None, None] + torch.einsum('bkcd,bkhwd->bkhwc', local_affine(kp, kp_t, **kw), u - kp_t[:, :, None, None])
    src = torch.cat([u.expand(kp.shape[0], 1, size, size, 2), src], 1)     # the background reads itself
    return torch.einsum('bjhw,bjhwc->bhwc', wts, src)

def background_fill(v, kp, s=4., inv_std=7.):
    "v with the figure replaced by its surroundings: blur of v weighted by 1 - (Gaussians at the points), normalised."
    keep = 1 - gaussian_maps(kp, v.shape[-1], inv_std).amax(1, keepdim=True)
    return blur(v * keep, s) / blur(keep, s).clamp_min(1e-3)

@torch.no_grad()
def score_run(run, data, n_frames=32) -> dict:
    Q, T, cfg = load_stage1(run)
    meta = json.loads((Path(data) / 'meta.json').read_text())
    if meta.get('generator') != 'kpvp_nb.synthetic': raise SystemExit(f"{data}: needs a make_synthetic folder (meta.json with the seeds)")
    train = open_split(data, 'train'); test = open_split(data, 'test', train.classes)
    renders = [render_video(v['action'], v['seed'], meta['size'], meta['n_frames'], jitter=meta['jitter'], background=meta['background'])
               for v in meta['videos'] if v['split'] == 'test']
    img, unit = (lambda t: to_uint8(t.clamp(-1, 1))), (lambda a: a.astype(np.float32) / 255)
    sums = {}
    for i in range(len(test)):
        idx = time_normalised_indices(test.n_frames(i), n_frames + 1, 0)
        clip = test.frames(i, idx)
        w = next(r for r in renders if np.array_equal(r.frames[idx], clip))  # the render behind this video
        fig = w.masks[idx] > 0.5                                          # the figure's pixels [T+1,H,W]
        x = torch.stack([to_tensor(f) for f in clip]); v0 = x[:1].expand(n_frames, -1, -1, -1)
        k = Q(x).kp.float()                                               # the detector's points of the true frames
        j = torch.from_numpy(pixels_to_kp(w.joints[idx], cfg.size)).float()   # the true joints
        k0, j0 = k[:1].expand(n_frames, -1, -1), j[:1].expand(n_frames, -1, -1)
        f = T.encode(x[:1]).expand(n_frames, -1, -1, -1)
        grid, _, occ = T.motion(f, k0, k[1:])
        out = {'frozen': v0, 'trained': T.decode(T.condition(f, k0, k[1:], grid), v0, grid, occ).v_hat, 'field only': warp(v0, grid)}
        if occ is not None: out['field + learned fill'] = fill_occluded(out['field only'], v0, occ)   # the translator's own occlusion map
        for s in (0.08, 0.15):
            out[f'joints {s}'] = warp(v0, motion_field(j0, j[1:], cfg.size, s)[0])
            out[f'joints {s} affine'] = warp(v0, affine_field(j0, j[1:], cfg.size, s))
        uncov = torch.from_numpy(fig[:1] & ~fig[1:]).float()[:, None]      # uncovered in frame t [T,1,H,W]
        fills = {'truth': x[1:], 'blur': blur(x[:1], 5.), 'background': background_fill(x[:1], j[:1])}
        for name in ('field only', 'joints 0.08', 'joints 0.15'):
            for fill, b in fills.items(): out[f'{name} + {fill}'] = (1 - uncov) * out[name] + uncov * b
        real = unit(clip[1:])
        moving = motion_mask(clip[1:], clip[0])                          # the pixels motion_l1 scores
        parts = {'uncovered': moving & fig[:1] & ~fig[1:]}; parts['rest'] = moving & ~parts['uncovered']
        for name, o in out.items():
            e = np.abs(real - unit(img(o))).mean(-1)
            acc = sums.setdefault(name, dict.fromkeys(parts, 0.))
            for p, m in parts.items(): acc[p] += float((e * m).sum())
        sums.setdefault('_pixels', dict.fromkeys(parts, 0))
        for p, m in parts.items(): sums['_pixels'][p] += int(m.sum())
    n_px = sums.pop('_pixels'); tot = sum(sums['frozen'].values())
    res = dict(steps=cfg.steps, n_videos=len(test), uncovered_share=n_px['uncovered'] / sum(n_px.values()))
    for name, acc in sums.items():
        res[name] = dict(total=sum(acc.values()) / tot, **{p: v / tot for p, v in acc.items()})
    return res

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True); ap.add_argument('--runs', nargs='+', required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for run in a.runs:
        r = score_run(run, a.data)
        res = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        res[Path(run).name] = r
        RESULTS.write_text(json.dumps(res, indent=1))
        print(Path(run).name, f"uncovered pixels {r['uncovered_share']:.2f} of the moving ones")
        for k, v in r.items():
            if isinstance(v, dict): print(f"  {k:28s} total {v['total']:.3f}  uncovered {v['uncovered']:.3f}  rest {v['rest']:.3f}", flush=True)
