"""Stage-1 data loading throughput: FramePairs over a synthetic PNG dataset, through the training
loop's stream loader, with 0 and 2 DataLoader workers, at 64x64 and 128x128.

    python benchmarks/data_bench.py          # writes benchmarks/results/data_bench.json
"""
import json, os, platform, tempfile, time
from pathlib import Path

import torch
from kpvp_nb.data import VideoFolder, FramePairs
from kpvp_nb.synthetic import make_synthetic
from kpvp_nb.training import stream_loader

def throughput(ds, workers, batch_size=16, batches=30, warmup=3):
    it = iter(stream_loader(ds, batch_size, seed=0, num_workers=workers))
    for _ in range(warmup): next(it)
    t = time.perf_counter()
    for _ in range(batches): next(it)
    return batches * batch_size / (time.perf_counter() - t)

if __name__ == '__main__':
    res = dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(), torch=torch.__version__, results=[])
    with tempfile.TemporaryDirectory() as d:
        for size in (64, 128):
            root = make_synthetic(Path(d) / f's{size}', n_videos=35, size=size, n_frames=40, seed=0, progress=False)
            ds = FramePairs(VideoFolder(root, 'train'), size)
            for w in (0, 2):
                sps = throughput(ds, w)
                res['results'].append(dict(size=size, workers=w, samples_per_s=round(sps, 1)))
                print(f'size {size} workers {w}: {sps:.0f} pairs/s')
    out = Path(__file__).parent / 'results' / 'data_bench.json'
    out.write_text(json.dumps(res, indent=1)); print('wrote', out)
