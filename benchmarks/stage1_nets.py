"""Time the stage-1 networks on this machine: Q + T forward and backward, the discriminator, and the VGG-19 perceptual loss.

Usage: python benchmarks/stage1_nets.py [--size 64] [--batch 16] [--n_kp 40] [--reps 5] [--device cpu]
Writes benchmarks/results/stage1_nets.json. Times are medians over `reps` runs after two warm-up runs; the
load average before and after is recorded because on a shared CPU other jobs slow everything down, and
with 2 threads much more than with 1 (`OMP_NUM_THREADS=1 ... --out benchmarks/results/stage1_nets_omp1.json`).
"""
import argparse, json, os, platform, statistics, time
from pathlib import Path

import torch

from kpvp_nb.keypoints import KeypointDetector
from kpvp_nb.translator import Translator, ImageDiscriminator
from kpvp_nb.losses import VGGPerceptual, d_loss


def timeit(fn, reps, device):
    "Median wall time of `fn()` in seconds, after two warm-up calls."
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    for _ in range(2): fn()
    ts = []
    for _ in range(reps):
        sync(); t = time.perf_counter(); fn(); sync(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--n_kp', type=int, default=40)
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--widths', type=float, nargs='+', default=[0.5, 0.25])
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'stage1_nets.json'))
    a = p.parse_args()
    torch.manual_seed(0)
    dev, B, S = a.device, a.batch, a.size
    v, v_t = (torch.rand(B, 3, S, S, device=dev) * 2 - 1 for _ in range(2))
    res = dict(device=dev, torch=torch.__version__, threads=torch.get_num_threads(), cpu_count=os.cpu_count(),
               machine=platform.processor() or platform.machine(), size=S, batch=B, n_kp=a.n_kp, reps=a.reps,
               loadavg_before=os.getloadavg()[0], results={})

    for w in a.widths:
        Q, T, D = KeypointDetector(a.n_kp, w).to(dev), Translator(a.n_kp, width=w).to(dev), ImageDiscriminator(w).to(dev)
        def qt_step():
            # one generator-side step without the loss networks: Q on both frames, T, L1, backward
            kp, kp_t = Q(torch.cat([v, v_t])).kp.chunk(2)
            (T(v, kp, kp_t).v_hat - v_t).abs().mean().backward()
        def d_step():
            d_loss(D(v_t), D(v)).backward()
        res['results'][f'width_{w}'] = dict(
            params_Q=sum(p.numel() for p in Q.parameters()), params_T=sum(p.numel() for p in T.parameters()),
            params_D=sum(p.numel() for p in D.parameters()),
            Q_T_fwd_bwd_s=timeit(qt_step, a.reps, dev), D_fwd_bwd_s=timeit(d_step, a.reps, dev))
        print(w, res['results'][f'width_{w}'], flush=True)

    for name, layers in (('vgg19_5_layers', (3, 8, 17, 26, 35)), ('vgg19_2_layers', (3, 8))):
        P = VGGPerceptual('random', layers=layers).to(dev)    # random weights: same cost as ImageNet weights
        x = v.clone().requires_grad_()
        def fwd(): 
            with torch.no_grad(): P(x, v_t)
        def fwd_bwd(): P(x, v_t).backward()
        res['results'][name] = dict(fwd_s=timeit(fwd, a.reps, dev), fwd_bwd_s=timeit(fwd_bwd, a.reps, dev))
        print(name, res['results'][name], flush=True)
    res['loadavg_after'] = os.getloadavg()[0]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == '__main__': main()
