"""Benchmark of kpvp_nb.fvd on this CPU: I3D clips per second against the floor set by the conv FLOPs and
the measured conv3d throughput, and the time to score 256 generated videos with cached real statistics.

    python benchmarks/fvd_bench.py [--full]      # results -> benchmarks/results/fvd_bench.json

Weights are random (speed does not depend on their values). Without --full, scoring 256 videos is
estimated from the measured time of 16 of them (the JSON says which).
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kpvp_nb.fvd import RealStatsCache
from kpvp_nb.i3d import InceptionI3d, preprocess

OUT = Path(__file__).parent / 'results' / 'fvd_bench.json'


def best_time(fn, repeat=3):
    "Best wall time of `repeat` calls after one warm-up call."
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return min(ts)


def conv_flops(model, x):
    "FLOPs (2 per multiply-add) of every Conv3d in one forward pass, from the layer and output shapes."
    flops = {}
    def hook(name):
        def f(m, i, o):
            kt, kh, kw = m.kernel_size
            positions = o[0].numel() // m.out_channels                          # T' H' W' of one clip
            flops[name] = 2 * m.in_channels * m.out_channels * kt * kh * kw * positions
        return f
    hs = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if isinstance(m, nn.Conv3d)]
    with torch.inference_mode(): model(x)
    for h in hs: h.remove()
    return flops


def conv_throughput():
    "GFLOP/s of two large conv3d calls like I3D's heaviest layers (3x3x3 at 28x28, and a 1x1x1 GEMM)."
    out = {}
    with torch.inference_mode():
        x = torch.randn(8, 128, 8, 30, 30); c = nn.Conv3d(128, 192, 3, bias=False)       # valid 3x3x3 -> [8, 192, 6, 28, 28]
        fl = 2 * 128 * 192 * 27 * 8 * 6 * 28 * 28
        out['conv3x3x3_128to192_8x6x28x28'] = fl / best_time(lambda: c(x)) / 1e9
        x = torch.randn(8, 832, 8, 14, 14); c = nn.Conv3d(832, 384, 1, bias=False)
        fl = 2 * 832 * 384 * 8 * 8 * 14 * 14
        out['conv1x1x1_832to384_8x8x14x14'] = fl / best_time(lambda: c(x)) / 1e9
    return out


def main(full=False):
    torch.manual_seed(0)
    res = dict(machine=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), torch=torch.__version__,
                            threads=torch.get_num_threads(), load_average_at_start=os.getloadavg()))
    try: res['machine']['cpu'] = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass

    i3d = InceptionI3d().eval()
    B, T = 4, 16
    x = torch.randn(B, 3, T, 224, 224).clamp(-1, 1)
    fl = conv_flops(i3d, x[:1])
    gflop_clip = sum(fl.values()) / 1e9
    heaviest = sorted(fl.items(), key=lambda kv: -kv[1])[:3]
    tput = conv_throughput()
    peak = max(tput.values())
    floor_clips_s = peak / gflop_clip

    with torch.inference_mode():
        t = best_time(lambda: i3d(x), repeat=2)
        i3d_cl = InceptionI3d().eval().to(memory_format=torch.channels_last_3d)
        xc = x.contiguous(memory_format=torch.channels_last_3d)
        t_cl = best_time(lambda: i3d_cl(xc), repeat=2)
    clips_s, clips_s_cl = B / t, B / t_cl
    res['i3d'] = dict(clip='16 x 224 x 224', batch=B, conv_gflop_per_clip=round(gflop_clip, 2),
                      heaviest_convs_gflop={k: round(v / 1e9, 2) for k, v in heaviest},
                      conv_throughput_gflops=tput, floor_clips_per_s=round(floor_clips_s, 3),
                      clips_per_s=round(clips_s, 3), fraction_of_floor=round(clips_s / floor_clips_s, 3),
                      clips_per_s_channels_last=round(clips_s_cl, 3), fraction_of_floor_channels_last=round(clips_s_cl / floor_clips_s, 3),
                      achieved_gflops=round(clips_s * gflop_clip, 1), achieved_gflops_channels_last=round(clips_s_cl * gflop_clip, 1),
                      note='floor = conv FLOPs of one clip / the best measured conv3d throughput; batch norm, ReLU, pooling, '
                           'padding copies and concatenations are not in the FLOP count')

    # scoring generated videos against cached real statistics
    # (with the channels-last model, as load_i3d returns it)
    rs = np.random.RandomState(0)
    n_score = 256 if full else 16
    real = rs.randint(0, 256, (16, 16, 64, 64, 3)).astype(np.uint8)
    fake = rs.randint(0, 256, (n_score, 16, 64, 64, 3)).astype(np.uint8)
    with tempfile.TemporaryDirectory() as d:
        RealStatsCache(Path(d) / 'real.npz', i3d=i3d_cl, batch_size=8).build(real)
        t0 = time.perf_counter()
        RealStatsCache(Path(d) / 'real.npz', i3d=i3d_cl, batch_size=8).score(fake)
        t_score = time.perf_counter() - t0
    t_pre = best_time(lambda: preprocess(fake[:8]), repeat=2) / 8
    per_video = t_score / n_score
    res['score_256'] = dict(videos='256 x 16 frames x 64 x 64, uint8', real_cached=True, batch_size=8, model='channels-last (load_i3d default)',
                            measured_videos=n_score, measured_s=round(t_score, 2), s_per_video=round(per_video, 3),
                            preprocess_s_per_video=round(t_pre, 4),
                            seconds=round(per_video * 256, 1), estimated=not full,
                            how='measured on all 256' if full else 'estimated: 256 x the per-video time of scoring 16 (I3D dominates; FD/KVD on 400-d features take milliseconds)')
    res['machine']['load_average_at_end'] = os.getloadavg()
    if max(res['machine']['load_average_at_start'][0], res['machine']['load_average_at_end'][0]) > 0.5 * os.cpu_count():
        res['machine']['note'] = ('other jobs ran during the measurement (see the load averages), '
                                  'so absolute times are pessimistic; ratios measured minutes apart are more reliable')
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--full', action='store_true', help='score all 256 videos instead of estimating from 16')
    main(ap.parse_args().full)
