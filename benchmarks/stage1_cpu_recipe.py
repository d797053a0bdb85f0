"""How to make stage-1 keypoints emerge on a CPU: the experiments behind the `cpu` preset.

Each experiment trains Q + T (width 0.25, 64x64, pixel L1, no VGG/GAN, Adam lr 1e-3, betas 0.5/0.999)
on synthetic videos held in memory (84 train / 28 test videos of 40 frames, pairs 8-11 frames apart,
no augmentation, one thread) and every 250 steps reports the keypoint error of the landmark
regression (kpvp_nb.evaluate) next to the mean-pose baseline, and the held-out reconstruction L1
next to copying the source. One variable changes at a time; see benchmarks/results/stage1_cpu_recipe.json.

    python benchmarks/stage1_cpu_recipe.py --tag I --inv-std 7.15 --logit-scale 10 --eq 1 --batch-size 8 --jitter 0
"""
import argparse, json, math, time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from kpvp_nb.evaluate import apply_regressor, fit_regressor, landmark_error
from kpvp_nb.keypoints import KeypointDetector
from kpvp_nb.losses import random_affine, warp_images, warp_points
from kpvp_nb.synthetic import ACTIONS, render_video
from kpvp_nb.translator import Translator
from kpvp_nb.video import kp_to_pixels

p = argparse.ArgumentParser()
p.add_argument('--tag', required=True)
p.add_argument('--n-kp', type=int, default=16); p.add_argument('--width', type=float, default=0.25)
p.add_argument('--lr', type=float, default=1e-3); p.add_argument('--batch-size', type=int, default=16)
p.add_argument('--minutes', type=float, default=10); p.add_argument('--inv-std', type=float, default=14.3)
p.add_argument('--logit-scale', type=float, default=1.); p.add_argument('--eq', type=float, default=0.)
p.add_argument('--jitter', type=float, default=0.01); p.add_argument('--target-warp', type=float, default=0.)
p.add_argument('--no-mask-steps', type=int, default=0); p.add_argument('--motion-weight', type=float, default=0.)
a = p.parse_args()
torch.manual_seed(0); torch.set_num_threads(1)
S, T_LEN = 64, 40

def videos(n, seed0):
    vs = [render_video(ACTIONS[i % len(ACTIONS)], seed=seed0 + i, size=S, n_frames=T_LEN, jitter=a.jitter) for i in range(n)]
    return torch.from_numpy(np.stack([v.frames for v in vs])).permute(0, 1, 4, 2, 3).float() / 127.5 - 1, np.stack([v.joints for v in vs])
Xtr, Jtr = videos(84, 0); Xte, Jte = videos(28, 10_000)
Q = KeypointDetector(a.n_kp, width=a.width, logit_scale=a.logit_scale)
T = Translator(a.n_kp, width=a.width, inv_std=a.inv_std)
opt = torch.optim.Adam([*Q.parameters(), *T.parameters()], a.lr, betas=(0.5, 0.999))

@torch.no_grad()
def scores():
    Q.eval(); T.eval()
    kp = lambda X: kp_to_pixels(torch.cat([Q(b).kp for b in X[:, ::4].reshape(-1, 3, S, S).split(256)]), S).numpy()
    gtr, gte = Jtr[:, ::4].reshape(-1, 13, 2), Jte[:, ::4].reshape(-1, 13, 2)
    err = landmark_error(apply_regressor(fit_regressor(kp(Xtr), gtr), kp(Xte), 13), gte)
    mean_pose = landmark_error(np.broadcast_to(gtr.mean(0), gte.shape), gte)
    g = torch.Generator().manual_seed(1)
    vi, ti = torch.randint(0, len(Xte), (64,), generator=g), torch.randint(0, T_LEN - 11, (64,), generator=g)
    v, vt = Xte[vi, ti], Xte[vi, ti + 10]
    o = T(v, *Q(torch.cat([v, vt])).kp.chunk(2))
    Q.train(); T.train()
    return dict(kp_error=err, kp_error_mean_pose=mean_pose, recon_l1=(o.v_hat - vt).abs().mean().item(),
                recon_l1_copy=(v - vt).abs().mean().item(), mask=o.m.mean().item())

hist, t0, step = [dict(step=0, sec=0, **scores())], time.time(), 0
while time.time() - t0 < a.minutes * 60:
    B = a.batch_size
    vi, d = torch.randint(0, len(Xtr), (B,)), torch.randint(8, 12, (B,))
    ti = (torch.rand(B) * (T_LEN - d)).long()
    v, vt = Xtr[vi, ti], Xtr[vi, ti + d]
    if a.target_warp > 0: vt = warp_images(vt, random_affine(B, 15 * a.target_warp, 0.1 * a.target_warp, 0.12 * a.target_warp))
    if a.eq > 0:
        A = random_affine(B)
        k, kt, kw = Q(torch.cat([v, vt, warp_images(vt, A)])).kp.chunk(3)
        l_eq = (kw - warp_points(kt, A)).abs().mean()
    else:
        k, kt = Q(torch.cat([v, vt])).kp.chunk(2); l_eq = 0.
    o = T(v, k, kt)
    err = ((o.s if step < a.no_mask_steps else o.v_hat) - vt).abs()
    if a.motion_weight > 0:
        w = 1 + a.motion_weight * (v - vt).abs().mean(1, keepdim=True); err = err * w / w.mean((2, 3), keepdim=True)
    loss = err.mean() + a.eq * l_eq
    opt.zero_grad(); loss.backward(); opt.step(); step += 1
    if step % 250 == 0:
        hist.append(dict(step=step, sec=round(time.time() - t0), **scores())); print(hist[-1], flush=True)
out = Path(__file__).parent / 'results' / f'stage1_cpu_recipe_{a.tag}.json'
out.write_text(json.dumps(dict(args=vars(a), history=hist), indent=1))
