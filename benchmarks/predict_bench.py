"""Prediction and stage-2 training speed on this CPU.

Prediction: seconds for `Predictor.predict` to make 32 frames from one image, with 1 and 8 samples, at
64x64 and 128x128, for the `cpu` networks (stage 1 width 0.25, K=16; stage 2 LSTMs of 128) and the
paper's networks (width 1, K=40, LSTMs of 1024). Weights are random: the time does not depend on them.
The FLOPs of one call (torch's FlopCounterMode) divided by the machine's best measured float32
throughput (a matmul or a 3x3 convolution, `stage1_step.peak_gflops`) give the floor a perfect
implementation would reach; `fraction_of_floor` = floor / time.

Stage 2: seconds per training step (D step + M step) at batch 32 for the `cpu` and `paper` presets.

Everything runs in one thread (OMP_NUM_THREADS=1), each measurement in its own process.

    python benchmarks/predict_bench.py     # writes benchmarks/results/predict_bench.json (a few minutes)
"""
import json, os, platform, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from stage1_step import peak_gflops                       # the same float32 peak as the stage-1 benchmark

class LSTMFlops:
    "FlopCounterMode does not see inside torch's fused LSTM: count its matmuls from the shapes (2*4H(I+H) per step, layer and sequence)."
    def __init__(self, modules, backward=False):
        import torch
        self.total, self.hooks, self.mult = 0, [], 3 if backward else 1     # backward costs about twice the forward
        for mod in modules:
            for m in mod.modules():
                if isinstance(m, torch.nn.LSTM): self.hooks.append(m.register_forward_hook(self.hook))
    def hook(self, m, inp, out):
        B, T = inp[0].shape[:2]
        for l in range(m.num_layers):
            I = m.input_size if l == 0 else m.hidden_size
            self.total += self.mult * 2 * 4 * m.hidden_size * (I + m.hidden_size) * B * T
    def close(self):
        for h in self.hooks: h.remove()

def predictor(preset, size):
    import torch
    from kpvp_nb.predict import Predictor
    from kpvp_nb.stage1 import get_config as c1, build_models
    from kpvp_nb.stage2 import get_config as c2, build_motion
    cfg1 = c1('cpu' if preset == 'cpu' else 'paper', size=size, lambda_gan=0., channels_last=False)
    cfg2 = c2(preset)
    m1 = build_models(cfg1)
    p = Predictor.__new__(Predictor)                      # the trained-run loader is bypassed: random weights
    p.run, p.device, p.cfg1, p.cfg2, p.classes = None, torch.device('cpu'), cfg1, cfg2, [f'class{i}' for i in range(9)]
    p.Q, p.T = m1['Q'].eval(), m1['T'].eval()
    p.M = build_motion(cfg2, cfg1.n_kp, 9)['M'].eval()
    return p

def one_predict(preset, size, samples, reps=3):
    import numpy as np, torch
    from torch.utils.flop_counter import FlopCounterMode
    p = predictor(preset, size)
    img = (np.random.default_rng(0).random((size, size, 3)) * 255).astype(np.uint8)
    p.predict(img, 0, 32, samples, seed=0)
    lf = LSTMFlops([p.M])
    with FlopCounterMode(display=False) as fc: p.predict(img, 0, 32, samples, seed=0)
    lf.close()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); p.predict(img, 0, 32, samples, seed=0); ts.append(time.perf_counter() - t)
    return dict(sec=min(ts), gflop=(fc.get_total_flops() + lf.total) / 1e9, gflop_lstm=lf.total / 1e9)

def one_stage2(preset, bs=32, reps=3):
    import torch
    from kpvp_nb.stage2 import get_config, build_motion, Stage2Step
    from torch.utils.flop_counter import FlopCounterMode
    cfg = get_config(preset, batch_size=bs)
    K = 16 if preset == 'cpu' else 40
    models = build_motion(cfg, K, 9)
    opts = {n: torch.optim.Adam(m.parameters(), cfg.lr, betas=cfg.betas) for n, m in models.items()}
    class Tr:
        def __init__(s): s.modules, s.optimizers = models, opts
        def backward(s, l): l.backward()
        def autocast(s): return torch.autocast('cpu', enabled=False)
    step, tr = Stage2Step(cfg), Tr()
    b = dict(k0=torch.rand(bs, K, 2) * 2 - 1, seq=torch.rand(bs, 32, K, 2) * 2 - 1, cls=torch.randint(0, 9, (bs,)))
    step(tr, b, 0)
    lf = LSTMFlops(models.values(), backward=True)
    with FlopCounterMode(display=False) as fc: step(tr, b, 1)
    lf.close()
    ts = []
    for i in range(reps):
        t = time.perf_counter(); step(tr, b, 2 + i); ts.append(time.perf_counter() - t)
    return dict(sec_per_step=min(ts), gflop_per_step=(fc.get_total_flops() + lf.total) / 1e9, gflop_lstm=lf.total / 1e9)

if __name__ == '__main__':
    if len(sys.argv) > 1:
        import torch; torch.set_num_threads(1)
        r = one_predict(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])) if sys.argv[1] == 'predict' else one_stage2(sys.argv[2])
        print(json.dumps(r)); sys.exit()
    import torch; torch.set_num_threads(1)
    pk = peak_gflops(); peak = pk['peak']
    res = dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(), threads=1, torch=torch.__version__,
               load_average_at_start=os.getloadavg()[0], matmul_gflops_fp32_1thread=pk['matmul'], conv3x3_gflops_fp32_1thread=pk['conv3x3'],
               peak_gflops_fp32_1thread=peak, predict=[], stage2=[])
    print(f"float32, 1 thread: matmul {pk['matmul']} GFLOP/s, 3x3 conv {pk['conv3x3']} GFLOP/s")
    out = Path(__file__).parent / 'results' / 'predict_bench.json'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    for preset in ('cpu', 'paper'):
        for size in (64, 128):
            for samples in (1, 8):
                r = subprocess.run([sys.executable, __file__, 'predict', preset, str(size), str(samples)], capture_output=True, text=True, env=env)
                if r.returncode: print(r.stderr[-2000:]); continue
                m = json.loads(r.stdout.strip().splitlines()[-1])
                m.update(networks=preset, size=size, samples=samples, frames=32, floor_sec=round(m['gflop'] / peak, 4),
                         fraction_of_floor=round(m['gflop'] / peak / m['sec'], 3))
                res['predict'].append(m); out.write_text(json.dumps(res, indent=1))
                print(f"predict {preset:5s} {size:3d} S={samples}: {m['sec']:.3f} s  {m['gflop']:.1f} GFLOP  floor {m['floor_sec']:.3f} s  ({m['fraction_of_floor']:.2f} of it)", flush=True)
    for preset in ('cpu', 'paper'):
        r = subprocess.run([sys.executable, __file__, 'stage2', preset], capture_output=True, text=True, env=env)
        if r.returncode: print(r.stderr[-2000:]); continue
        m = json.loads(r.stdout.strip().splitlines()[-1])
        m.update(preset=preset, batch=32, fraction_of_peak=round(m['gflop_per_step'] / m['sec_per_step'] / peak, 3))
        res['stage2'].append(m); out.write_text(json.dumps(res, indent=1))
        print(f"stage 2 {preset:5s} b32: {m['sec_per_step']:.3f} s/step  {m['gflop_per_step']:.2f} GFLOP  ({m['fraction_of_peak']:.2f} of peak)", flush=True)
    res['load_average_at_end'] = os.getloadavg()[0]
    out.write_text(json.dumps(res, indent=1)); print('wrote', out)
