"""Generation speed of the synthetic action videos (`kpvp_nb.synthetic`).

Measures, on one process:
- `render_video`: frames per second at 64x64 and 128x128 (all seven actions, 40 frames each);
- `make_synthetic`: frames per second end to end, rendering and writing PNG folders (and mp4) at 64x64.

Run: `python benchmarks/synthetic_bench.py [--repeats 3] [--seeds 3]`; results go to
benchmarks/results/synthetic_bench.json. Times are wall-clock; the best of `--repeats` runs is
reported (the least disturbed by other processes), with the median beside it.
"""
import argparse, json, os, platform, shutil, statistics, tempfile, time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import kpvp_nb
from kpvp_nb.synthetic import ACTIONS, make_synthetic, render_video


def time_render(size, seeds, n_frames, repeats):
    "Frames per second of render_video over every action and `seeds` seeds; (best, median)."
    render_video(ACTIONS[0], 0, size, 4)                                # warm-up (imports, caches)
    fps = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = sum(len(render_video(a, s, size, n_frames)) for a in ACTIONS for s in range(seeds))
        fps.append(n / (time.perf_counter() - t0))
    return max(fps), statistics.median(fps)


def time_make(size, n_videos, n_frames, fmt, repeats):
    "Frames per second of make_synthetic (render + write) in a temporary folder; (best, median)."
    fps = []
    for _ in range(repeats):
        d = Path(tempfile.mkdtemp())
        try:
            t0 = time.perf_counter()
            make_synthetic(d / 'syn', n_videos, size, n_frames, seed=0, fmt=fmt, progress=False)
            fps.append(n_videos * n_frames / (time.perf_counter() - t0))
            mb = sum(f.stat().st_size for f in (d / 'syn').rglob('*') if f.is_file()) / 2 ** 20
        finally: shutil.rmtree(d, ignore_errors=True)
    return max(fps), statistics.median(fps), mb


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--seeds', type=int, default=3, help='videos per action in the render timing')
    ap.add_argument('--frames', type=int, default=40)
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'synthetic_bench.json'))
    a = ap.parse_args()
    res = dict(benchmark='synthetic_bench', date=datetime.now(timezone.utc).isoformat(timespec='seconds'),
               kpvp_nb=kpvp_nb.__version__, python=platform.python_version(), numpy=np.__version__,
               machine=platform.machine(), processor=platform.processor() or platform.machine(), cpu_count=os.cpu_count(),
               load_avg_before=os.getloadavg() if hasattr(os, 'getloadavg') else None,
               n_frames=a.frames, repeats=a.repeats, render={}, make_synthetic={})
    for size in (64, 128):
        best, med = time_render(size, a.seeds, a.frames, a.repeats)
        res['render'][f'{size}'] = dict(frames_per_s=round(best, 1), median_frames_per_s=round(med, 1),
                                        videos=len(ACTIONS) * a.seeds)
        print(f'render_video {size}x{size}: {best:.0f} frames/s (median {med:.0f})')
    for fmt in ('png', 'mp4'):
        best, med, mb = time_make(64, 2 * len(ACTIONS), a.frames, fmt, a.repeats)
        res['make_synthetic'][f'64_{fmt}'] = dict(frames_per_s=round(best, 1), median_frames_per_s=round(med, 1),
                                                  videos=2 * len(ACTIONS), mib_on_disk=round(mb, 2),
                                                  kib_per_frame=round(mb * 1024 / (2 * len(ACTIONS) * a.frames), 2))
        print(f'make_synthetic 64x64 {fmt}: {best:.0f} frames/s (median {med:.0f}), {mb * 1024 / (2 * len(ACTIONS) * a.frames):.1f} KiB/frame')
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print('wrote', a.out)


if __name__ == '__main__': main()
