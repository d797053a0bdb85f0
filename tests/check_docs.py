"""The docs site's pre-processing, checked without Quarto.

Before Quarto renders anything, `nbdev_docs` runs `nbdev.serve.proc_nbs`: for every notebook it executes the
cells nbdev needs for the API pages (cells that export, that import, or that call `show_doc`) and fails on the
first error. This script runs the same processing (nbdev's own `serve_drv.main` on nbdev's own file list) into
a temporary folder, one notebook per worker, and fails if any notebook errs or any takes longer than
`--limit` seconds. CI runs it (tests/run_all.sh), and so does the deploy workflow before Quarto.

Usage: python tests/check_docs.py [--limit 120] [--total 300] [--workers 2] [NAME ...]   (NAME: part of a notebook's path)
Never run `nbdev_docs`, `nbdev_preview` or `nbdev_proc_nbs` where Quarto is not installed: they try to install
it and then pip-install the checkout into whatever Python is first on PATH.
"""
import argparse, io, contextlib, multiprocessing as mp, os, sys, tempfile, time, traceback, warnings
from concurrent.futures import ProcessPoolExecutor, TimeoutError as FutureTimeout
from pathlib import Path


def _one(args):
    src, dst = args
    warnings.filterwarnings('ignore')
    import nbdev.serve_drv
    from nbdev.serve import FilterDefaults
    t = time.time()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            nbdev.serve_drv.main((Path(src), Path(dst), FilterDefaults))
        return src, time.time() - t, None
    except Exception as e:
        first = str(e).strip().split('\n')
        cause = e.__cause__
        why = f"{type(cause).__name__}: {cause}" if cause is not None else traceback.format_exc(limit=1)
        return src, time.time() - t, f"{first[0]} [{' '.join(first[1:3])[:100]}] -> {why.strip()[:300]}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('names', nargs='*', help='only the notebooks whose path contains one of these')
    p.add_argument('--limit', type=float, default=120, help='seconds allowed per notebook (default 120)')
    p.add_argument('--workers', type=int, default=2, help='notebooks processed at once (default 2)')
    p.add_argument('--total', type=float, default=300, help='seconds allowed for all of them (default 300)')
    a = p.parse_args(argv)
    from nbdev.config import get_config
    from nbdev.serve import nbglob
    cfg = get_config()
    nbs = Path(cfg.nbs_path)
    files = [f for f in nbglob(nbs, func=Path, file_glob='', file_re='') if f.suffix == '.ipynb'
             and not any(o[0] == '.' or o in ('_proc', '_docs', '_site') for o in f.parts)]
    if a.names: files = [f for f in files if any(n in str(f) for n in a.names)]
    if not files: sys.exit(f"check_docs: no notebook under {nbs} matches {a.names}")
    os.environ.setdefault('OMP_NUM_THREADS', '1'); os.environ.setdefault('MPLBACKEND', 'Agg')
    t0, bad = time.time(), []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(str(f), str(Path(tmp) / f.relative_to(nbs))) for f in files]
        for _, d in jobs: Path(d).parent.mkdir(parents=True, exist_ok=True)
        # not multiprocessing.Pool: its workers are daemons, and a notebook may start processes of its own
        ex = ProcessPoolExecutor(a.workers, mp_context=mp.get_context('spawn'), max_tasks_per_child=1)
        deadline = t0 + a.limit * -(-len(jobs) // a.workers) + 30   # every notebook at its limit, in turn
        pending = {j[0]: ex.submit(_one, j) for j in jobs}
        for src, fut in pending.items():
            name = Path(src).relative_to(nbs)
            try: _, dt, err = fut.result(timeout=max(1.0, deadline - time.time()))
            except FutureTimeout:
                bad.append(f"{name}: still running after {a.limit:.0f} s (does a cell nbdev executes train or download?)")
                print(f"FAIL {name}: over {a.limit:.0f} s", flush=True); continue
            if err is None and dt > a.limit: err = f"took {dt:.0f} s, over the {a.limit:.0f} s allowed"
            print(f"{'ok  ' if err is None else 'FAIL'} {name} ({dt:.1f} s){'' if err is None else ': ' + err}", flush=True)
            if err is not None: bad.append(f"{name}: {err}")
        for p in list(getattr(ex, '_processes', {}).values()): p.kill()   # whatever still runs is over its time
        ex.shutdown(wait=False, cancel_futures=True)
    print(f"check_docs: {len(files) - len(bad)} of {len(files)} notebooks pass nbdev's docs pre-processing "
          f"in {time.time() - t0:.0f} s", flush=True)
    if time.time() - t0 > a.total: bad.append(f"all notebooks took {time.time() - t0:.0f} s, over the {a.total:.0f} s allowed")
    if bad: sys.exit("FAIL: the docs site would not build:\n  " + "\n  ".join(bad))


if __name__ == '__main__': main()
