"""Stage-1 training step on this CPU: seconds per step and peak memory at 64x64 and 128x128, batch 16
and 32, for the `cpu` preset (width 0.25, pixel loss) and the `paper` preset (width 1, VGG-19 + GAN;
random VGG weights here, which cost the same), each in float32 and channels_last (the paper's networks at batch 16 only, and channels_last at 64x64), and bf16
autocast once (the cpu preset at 64x64, batch 16): on the machine of earlier sessions, without bf16 units, autocast
was 17-20x slower than float32 at every size tried (10.4 s vs 0.62 s at 64/16, 51.9 s vs 2.6 s at 128/16, one
thread); on the seventh session's AMD EPYC with AVX512_BF16 it is 1.19x faster (0.139 vs 0.165 s at 64/16).
The step's FLOPs (torch's FlopCounterMode) over its time, against the machine's best measured float32
throughput (`peak_gflops`: a square matmul or a 3x3 convolution, whichever is faster), gives the
fraction of peak the step reaches.

    python benchmarks/stage1_step.py            # writes benchmarks/results/stage1_step.json (about 15 min on 2 cores)
"""
import json, os, platform, resource, subprocess, sys, time
from pathlib import Path

def matmul_gflops(n=2048, reps=10):
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2): a @ b
    t = time.perf_counter()
    for _ in range(reps): a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9

def conv_gflops(reps=10):
    "A 3x3 convolution (batch 8, 256 channels, 32x32): torch runs it with oneDNN, which may use wider vector units than the BLAS behind matmul."
    import torch, torch.nn.functional as F
    x, w = torch.randn(8, 256, 32, 32), torch.randn(256, 256, 3, 3)
    for _ in range(2): F.conv2d(x, w, padding=1)
    t = time.perf_counter()
    for _ in range(reps): F.conv2d(x, w, padding=1)
    return 2 * 8 * 256 * 256 * 9 * 32 * 32 * reps / (time.perf_counter() - t) / 1e9

def peak_gflops() -> dict:
    """The best float32 throughput measured on this machine, in this process's threads: the larger of a square matmul and
    a 3x3 convolution. On the AMD EPYC of the seventh session MKL's matmul reached 111 GFLOP/s (its AVX2 path: MKL does not
    use AVX-512 on AMD CPUs) and oneDNN's convolution 248, so a floor from the matmul alone was no floor (steps ran at up
    to 1.7 times it)."""
    m, c = matmul_gflops(), conv_gflops()
    return dict(matmul=round(m, 1), conv3x3=round(c, 1), peak=round(max(m, c), 1))

def one(preset, size, bs, variant, steps=2):
    import torch
    from dataclasses import replace
    from torch.utils.flop_counter import FlopCounterMode
    from kpvp_nb.stage1 import get_config, build_models, build_perceptual, Stage1Step
    cfg = get_config(preset, size=size, batch_size=bs, channels_last=variant == 'channels_last',
                     mixed_precision='bf16' if variant == 'bf16' else 'no', vgg='random' if preset == 'paper' else 'none')
    models = build_models(cfg)
    opts = dict(G=torch.optim.Adam(list(models['Q'].parameters()) + list(models['T'].parameters()), cfg.lr, betas=cfg.betas))
    if 'D' in models: opts['D'] = torch.optim.Adam(models['D'].parameters(), cfg.lr, betas=cfg.betas)
    class Tr:                                       # the parts of Trainer a step uses, without accelerate
        def __init__(s): s.modules, s.optimizers = models, opts
        def backward(s, l): l.backward()
        def autocast(s): return torch.autocast('cpu', dtype=torch.bfloat16, enabled=variant == 'bf16')
    step = Stage1Step(cfg, build_perceptual(cfg))
    b = dict(source=torch.rand(bs, 3, size, size) * 2 - 1, target=torch.rand(bs, 3, size, size) * 2 - 1)
    tr = Tr()
    step(tr, b, 0)
    with FlopCounterMode(display=False) as fc: step(tr, b, 1)
    flops = fc.get_total_flops()
    ts = []
    for i in range(steps):
        t = time.perf_counter(); step(tr, b, 2 + i); ts.append(time.perf_counter() - t)
    return dict(sec_per_step=min(ts), gflop_per_step=flops / 1e9, peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

if __name__ == '__main__':
    if len(sys.argv) > 1:                           # one measurement, in its own process (clean peak memory)
        print(json.dumps(one(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))); sys.exit()
    import torch
    pk = peak_gflops(); peak = pk['peak']
    res = dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(), threads=torch.get_num_threads(),
               torch=torch.__version__, matmul_gflops_fp32=pk['matmul'], conv3x3_gflops_fp32=pk['conv3x3'], peak_gflops_fp32=peak, results=[])
    print(f"float32: matmul {pk['matmul']} GFLOP/s, 3x3 conv {pk['conv3x3']} GFLOP/s")
    out = Path(__file__).parent / 'results' / 'stage1_step.json'
    grid = [(pr, sz, bs, var) for pr in ('cpu', 'paper') for sz in (64, 128) for bs in (16, 32) for var in ('fp32', 'channels_last', 'bf16')
            if (var != 'bf16' or (pr, sz, bs) == ('cpu', 64, 16))           # bf16 autocast is 17-20x slower on this CPU (no bf16 units)
            and (pr == 'cpu' or (bs == 16 and (var == 'fp32' or sz == 64)))] # the paper's nets are slow here: batch 16 only
    for preset, size, bs, variant in grid:
        r = subprocess.run([sys.executable, __file__, preset, str(size), str(bs), variant], capture_output=True, text=True)
        if r.returncode: print(r.stderr[-2000:]); continue
        m = json.loads(r.stdout.strip().splitlines()[-1])
        m.update(preset=preset, size=size, batch=bs, variant=variant,
                 fraction_of_peak=round(m['gflop_per_step'] / m['sec_per_step'] / peak, 3))
        res['results'].append(m)
        out.write_text(json.dumps(res, indent=1))                    # keep what is measured so far
        print(f"{preset:5s} {size:3d} b{bs:2d} {variant:13s} {m['sec_per_step']:7.3f} s/step  {m['gflop_per_step']:8.1f} GFLOP  "
              f"{m['fraction_of_peak']:.2f} of peak  {m['peak_rss_mib']:.0f} MiB", flush=True)
    out.write_text(json.dumps(res, indent=1)); print('wrote', out)
