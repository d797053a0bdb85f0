"""The fault matrix: every console script against bad input, faults and hostile files.

Each case runs one console script (its real entry point, in this process, or as a subprocess where a
process-wide condition is needed) on a fresh copy of a small world: a synthetic dataset, a trained
stage-1 + stage-2 run and an input image. It asserts the exit status, that stderr names the thing that
is wrong, that no traceback is shown, and that every file that existed before is byte-identical
afterwards (and, for a refusal, that nothing new appeared). `python -m pytest tests/test_faults.py -q`
runs it; `CASES` is the matrix.
"""
from __future__ import annotations
import hashlib, json, os, resource, shutil, signal, socket, subprocess, sys, tarfile, io
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

SCRIPTS = {e.name: e for e in entry_points(group='console_scripts') if e.name.startswith('kpvp_')}

# ---------------------------------------------------------------- the world every case starts from
@pytest.fixture(scope='session')
def world(tmp_path_factory):
    "data/ (14 synthetic videos, 32x32, 12 frames), run/ (stage 1 + keypoints + stage 2, 2 steps each), img.png."
    root = tmp_path_factory.mktemp('world')
    from kpvp_nb.synthetic import make_synthetic
    from kpvp_nb.stage1 import get_config, train_keypoints
    from kpvp_nb.stage2 import get_config as motion_config, train_motion
    make_synthetic(root / 'data', 14, size=32, n_frames=12, progress=False, workers=1)
    train_keypoints(root / 'data', root / 'run', get_config('cpu', size=32, n_kp=4, width=0.125, batch_size=2, steps=2), progress=False)
    train_motion(root / 'run', root / 'data', motion_config('cpu', steps=2, batch_size=2, hidden=16, latent=4), progress=False)
    first = sorted((root / 'data' / 'test').glob('*/*'))[0]
    shutil.copy(sorted(first.glob('*.png'))[0], root / 'img.png')
    return root

def snapshot(root:Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob('*')) if p.is_file()}

@dataclass
class Case:
    name: str
    script: str                         # console script
    args: Callable                      # w -> list of arguments (w: this case's world folder)
    code: int                           # expected exit status
    says: tuple = ()                    # substrings of stderr (of stdout too when code == 0)
    setup: Callable|None = None         # w -> None: prepare the fault
    check: Callable|None = None         # (w, out) -> None: more assertions
    changes: tuple = ()                 # globs (relative to w) of files that may change or appear
    subprocess: bool = False            # run the installed script in a child process
    env: dict = field(default_factory=dict)
    limit_fsize: int|None = None        # child only: RLIMIT_FSIZE in bytes (a full disk)

def run_case(case:Case, w:Path, capsys):
    if case.subprocess:
        exe = shutil.which(case.script)
        cmd = [exe] if exe else [sys.executable, '-c', f'import sys; from {SCRIPTS[case.script].module} import {SCRIPTS[case.script].attr} as m; m()']
        def pre():
            if case.limit_fsize is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (case.limit_fsize, case.limit_fsize))
        r = subprocess.run(cmd + [str(a) for a in case.args(w)], capture_output=True, text=True, cwd=w, timeout=300,
                           env={**os.environ, 'OMP_NUM_THREADS': '1', **case.env}, preexec_fn=pre)
        return r.returncode, r.stdout, r.stderr
    fn = SCRIPTS[case.script].load()
    old = {k: os.environ.get(k) for k in case.env}; os.environ.update(case.env)
    cwd = os.getcwd(); os.chdir(w)
    try:
        try: fn([str(a) for a in case.args(w)]); code = 0
        except SystemExit as e: code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(cwd)
        for k, v in old.items():
            if v is None: os.environ.pop(k, None)
            else: os.environ[k] = v
    out = capsys.readouterr()
    return code, out.out, out.err

# ---------------------------------------------------------------- faults
def corrupt_byte(p:Path):
    b = bytearray(p.read_bytes()); b[len(b) // 2] ^= 0xFF; p.write_bytes(bytes(b))

def newest(w, sub='run/checkpoints') -> Path: return sorted((w / sub).glob('step_*'))[-1]

def rehash(ck:Path):
    "Make the manifest match the files (what an attacker who hands over a run folder can do)."
    from kpvp_nb.training import sha256_file
    man = json.loads((ck / 'manifest.json').read_text())
    man['files'] = {f.name: sha256_file(f) for f in sorted(ck.iterdir()) if f.name != 'manifest.json'}
    (ck / 'manifest.json').write_text(json.dumps(man))

class _Evil:
    def __reduce__(self): return (os.system, ('touch PWNED',))

def hostile_state(sub='run/checkpoints'):
    "The newest checkpoint's train state replaced by a pickle that runs a command, with a matching manifest."
    def f(w):
        import torch
        ck = newest(w, sub)
        for n in ('train_state.json', 'train_state.safetensors'): (ck / n).unlink()
        torch.save({'step': 2, 'payload': _Evil()}, ck / 'train_state.pt'); rehash(ck)
    return f

def not_pwned(w, out): assert not (w / 'PWNED').exists() and not Path('PWNED').exists(), 'the payload ran'

def edit_json(rel, **changes):
    def f(w):
        p = w / rel; d = json.loads(p.read_text()); d.update(changes); p.write_text(json.dumps(d))
    return f

def write(rel, data:bytes|str):
    def f(w):
        p = w / rel; p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return f

def both(*fs):
    def f(w):
        for g in fs: g(w)
    return f

def held_lock(rel):
    "RUN/.lock held by a live process (a `sleep`) on this host."
    def f(w):
        p = subprocess.Popen(['sleep', '120']); _children.append(p)
        (w / rel).mkdir(parents=True, exist_ok=True)
        (w / rel / '.lock').write_text(json.dumps(dict(pid=p.pid, host=socket.gethostname(), command='kpvp_train_keypoints (another)', since='now')))
    return f
_children: list = []

def dead_lock(rel):
    def f(w):
        p = subprocess.Popen([sys.executable, '-c', 'pass']); p.wait()
        (w / rel / '.lock').write_text(json.dumps(dict(pid=p.pid, host=socket.gethostname(), command='killed', since='then')))
    return f

def nan_labels(w):
    f = sorted((w / 'run' / 'keypoints' / 'train').glob('*/*.npy'))[0]
    kp = np.load(f); kp[2, 1] = np.nan; np.save(f, kp)

def break_video_at_step(step:int, batch:int=2):
    "Make every frame of the training video that the stream draws at `step` unreadable (a disk error in the middle of a run)."
    def f(w):
        from kpvp_nb.data import VideoFolder
        from kpvp_nb.training import SampleStream
        vids = VideoFolder(w / 'data', 'train')
        stream = SampleStream(type('Pairs', (), {'n_items': len(vids.records), 'sample': lambda self, i, g: None})(), seed=0)   # the order the run draws videos in
        early = {stream.index(n) for n in range(step * batch)}
        i = next(stream.index(n) for n in range(step * batch, 10 ** 4) if stream.index(n) not in early)
        for png in vids.records[i].path.glob('*.png'): png.write_bytes(b'not a png')
    return f

def html_server():
    "A local server that answers every request with an HTML page (a login wall, a moved dataset)."
    import http.server, threading
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'<!doctype html><html><body>Please log in</body></html>'
            self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f'http://127.0.0.1:{srv.server_address[1]}/Penn_Action.tar.gz'
_URL: list = []
def html_url():
    if not _URL: _URL.append(html_server())
    return _URL[0]

def tar_bytes(members) -> bytes:
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w:gz') as t:
        for name, kind, target in members:
            ti = tarfile.TarInfo(name)
            if kind == 'sym': ti.type, ti.linkname = tarfile.SYMTYPE, target; t.addfile(ti)
            else: ti.size = len(target); t.addfile(ti, io.BytesIO(target))
    return b.getvalue()

# ---------------------------------------------------------------- checks
def file_absent(rel):
    def c(w, out): assert not (w / rel).exists(), f'{rel} should not exist'
    return c

def no_checkpoint_after(rel, step):
    def c(w, out):
        cks = sorted((w / rel).glob('step_*')) if (w / rel).exists() else []
        assert all(int(p.name[5:]) < step for p in cks), [p.name for p in cks]
    return c

def checkpoint_at_least(rel, step):
    def c(w, out):
        cks = sorted((w / rel).glob('step_*'))
        assert cks and int(cks[-1].name[5:]) >= step, [p.name for p in cks]
    return c

def video_written(rel):
    def c(w, out):
        from kpvp_nb.video import read_video
        assert len(read_video(w / rel)) == 4
    return c

# ---------------------------------------------------------------- the matrix
S1 = lambda w, *more: ['--data', w / 'data', '--run', w / 'run', '--preset', 'cpu', '--size', '32', '--n-kp', '4', '--width', '0.125',
                       '--batch-size', '2', *more]
NEW1 = lambda w, *more: S1(w, *more)[:3] + [w / 'new'] + S1(w, *more)[4:]
S2 = lambda w, *more: ['--run', w / 'run', '--batch-size', '2', '--hidden', '16', '--latent', '4', *more]
PRED = lambda w, *more: ['--run', w / 'run', '--image', w / 'img.png', '--action', 'kicks', '--n-frames', '4', '--out', w / 'out.mp4', *more]
EV = lambda w, *more: ['--run', w / 'run', '--data', w / 'data', '--metrics', 'psnr', 'l1', '--max-videos', '1', *more]
EK = lambda w, *more: ['--run', w / 'run', '--data', w / 'data', '--n-pairs', '4', '--stride', '6', *more]
NEW_RUN = ('new/**',)

CASES = [
    # -- run folders that could run code, or that are damaged (kpvp_predict, kpvp_train_*)
    Case('predict: hostile pickle in the run folder is never read', 'kpvp_predict', PRED, 0, ('video(s) of 4 frames',),
         setup=hostile_state(), check=lambda w, o: (not_pwned(w, o), video_written('out.mp4')(w, o)), changes=('out.mp4',)),
    Case('resume: hostile pickle is refused, runs nothing', 'kpvp_train_keypoints', lambda w: S1(w, '--steps', '4', '--resume'), 1,
         ('never unpickles code',), setup=hostile_state(), check=not_pwned),
    Case('resume stage 2: hostile pickle is refused', 'kpvp_train_motion', lambda w: S2(w, '--steps', '4', '--resume'), 1,
         ('never unpickles code',), setup=hostile_state('run/motion/checkpoints'), check=not_pwned),
    Case('predict: flipped byte in the weights', 'kpvp_predict', PRED, 1, ('models.safetensors: corrupt',),
         setup=lambda w: corrupt_byte(newest(w) / 'models.safetensors')),
    Case('predict: weights that are not safetensors, manifest to match', 'kpvp_predict', PRED, 1, ('not a safetensors file',),
         setup=lambda w: (write(f'{newest(w).relative_to(w)}/models.safetensors', b'\x08\x00\x00\x00\x00\x00\x00\x00{"a":1}')(w), rehash(newest(w)))),
    Case('predict: manifest missing', 'kpvp_predict', PRED, 1, ('incomplete checkpoint',), setup=lambda w: (newest(w) / 'manifest.json').unlink()),
    Case('predict: manifest is not JSON', 'kpvp_predict', PRED, 1, ('corrupt manifest',), setup=lambda w: (newest(w) / 'manifest.json').write_text('{')),
    Case('predict: manifest names a file outside the checkpoint', 'kpvp_predict', PRED, 1, ('outside the checkpoint',),
         setup=lambda w: edit_json(f'{newest(w).relative_to(w)}/manifest.json', files={'../config.json': 'y', 'models.safetensors': 'x'})(w)),
    Case('predict: stage-2 weights truncated', 'kpvp_predict', PRED, 1, ('corrupt',),
         setup=lambda w: (newest(w, 'run/motion/checkpoints') / 'models.safetensors').write_bytes((newest(w, 'run/motion/checkpoints') / 'models.safetensors').read_bytes()[:200])),
    Case('predict: config.json is not JSON', 'kpvp_predict', PRED, 1, ('config.json: cannot read this config',), setup=write('run/config.json', '{"size": 32,')),
    Case('predict: config.json with an unknown field', 'kpvp_predict', PRED, 1, ("unknown Stage1Config fields ['sise']",), setup=edit_json('run/config.json', sise=3)),
    Case('predict: config.json with a bad value', 'kpvp_predict', PRED, 1, ('config.json: n_kp (--n-kp) must be an integer >= 1',), setup=edit_json('run/config.json', n_kp=0)),
    Case('predict: config.json that does not fit the weights', 'kpvp_predict', PRED, 1, ("weights do not fit the model",), setup=edit_json('run/config.json', n_kp=5)),
    Case('predict: no such run folder', 'kpvp_predict', lambda w: PRED(w)[:1] + [w / 'nowhere'] + PRED(w)[2:], 1, ('nowhere',)),
    Case('predict: a run without stage 2', 'kpvp_predict', PRED, 1, ('kpvp_train_motion',), setup=lambda w: shutil.rmtree(w / 'run' / 'motion')),
    Case('predict: stage 2 without classes.json', 'kpvp_predict', PRED, 1, ('classes.json',), setup=lambda w: (w / 'run' / 'motion' / 'classes.json').unlink()),
    # -- kpvp_predict: arguments and output
    Case('predict: --temperature nan', 'kpvp_predict', lambda w: PRED(w, '--temperature', 'nan'), 2, ('--temperature must be a finite number >= 0, got nan',)),
    Case('predict: --temperature -1', 'kpvp_predict', lambda w: PRED(w, '--temperature', '-1'), 2, ('--temperature',)),
    Case('predict: --samples 0', 'kpvp_predict', lambda w: PRED(w, '--samples', '0'), 2, ('--samples must be an integer >= 1',)),
    Case('predict: --n-frames 0', 'kpvp_predict', lambda w: PRED(w, '--n-frames', '0'), 2, ('--n-frames',)),
    Case('predict: --fps 0', 'kpvp_predict', lambda w: PRED(w, '--fps', '0'), 2, ('--fps must be a finite number > 0',)),
    Case('predict: --fps inf', 'kpvp_predict', lambda w: PRED(w, '--fps', 'inf'), 2, ('--fps',)),
    Case('predict: --samples not a number', 'kpvp_predict', lambda w: PRED(w, '--samples', 'two'), 2, ("invalid int value: 'two'",)),
    Case('predict: --out with another suffix', 'kpvp_predict', lambda w: PRED(w)[:-1] + [w / 'out.avi'], 2, ('must end in .mp4 or .gif',)),
    Case('predict: --out is a folder', 'kpvp_predict', lambda w: PRED(w)[:-1] + [w / 'dir.mp4'], 2, ('is a folder',), setup=lambda w: (w / 'dir.mp4').mkdir()),
    Case('predict: --out under a file', 'kpvp_predict', lambda w: PRED(w)[:-1] + [w / 'img.png' / 'v.mp4'], 1, ('v.mp4: cannot write here',)),
    Case('predict: no such image', 'kpvp_predict', lambda w: PRED(w)[:3] + [w / 'none.png'] + PRED(w)[4:], 1, ('none.png: no such image file',)),
    Case('predict: an image that is not one', 'kpvp_predict', lambda w: PRED(w)[:3] + [w / 'text.png'] + PRED(w)[4:], 1, ('text.png: cannot read this image',), setup=write('text.png', 'hello')),
    Case('predict: unknown action', 'kpvp_predict', lambda w: PRED(w)[:5] + ['dancing'] + PRED(w)[6:], 2, ("the known actions are",)),
    Case('predict: action index out of range', 'kpvp_predict', lambda w: PRED(w)[:5] + ['11'] + PRED(w)[6:], 2, ('out of range',)),
    Case('predict: a good run overwrites its output atomically', 'kpvp_predict', PRED, 0, ('video(s)',), setup=write('out.mp4', 'old'),
         check=video_written('out.mp4'), changes=('out.mp4',)),
    Case('predict: a full disk is an error and leaves no file', 'kpvp_predict', PRED, 1, ('out.mp4: writing failed',),
         subprocess=True, limit_fsize=4096, check=lambda w, o: (file_absent('out.mp4')(w, o), _no_temporaries(w))),
    # -- kpvp_train_keypoints
    Case('train: existing run without --resume changes nothing', 'kpvp_train_keypoints', lambda w: S1(w, '--steps', '4'), 1,
         ('already holds checkpoints', '--resume')),
    Case('train: existing run, another preset, changes nothing', 'kpvp_train_keypoints', lambda w: S1(w, '--steps', '4')[:5] + ['paper'] + S1(w)[6:], 1,
         ('already holds checkpoints',)),
    Case('train: --resume with nothing to resume', 'kpvp_train_keypoints', lambda w: NEW1(w, '--steps', '4', '--resume'), 1,
         ('nothing to resume',), check=file_absent('new')),
    Case('train: --resume with a corrupt newest checkpoint', 'kpvp_train_keypoints', lambda w: S1(w, '--steps', '4', '--resume'), 1,
         ('corrupt',), setup=lambda w: corrupt_byte(newest(w) / 'train_state.safetensors')),
    Case('train: --resume with other classes', 'kpvp_train_keypoints', lambda w: S1(w, '--steps', '4', '--resume'), 2,
         ("differ from the run's",), setup=lambda w: shutil.rmtree(w / 'data' / 'train' / 'waving')),
    Case('train: another process holds the run', 'kpvp_train_keypoints', lambda w: S1(w, '--steps', '4', '--resume'), 1,
         ('is in use by process', 'kpvp_train_keypoints (another)'), setup=held_lock('run')),
    Case('train: a stale lock is taken over', 'kpvp_train_keypoints', lambda w: S1(w, '--steps', '3', '--resume'), 0,
         ('stale lock', 'trained to step 3'), setup=dead_lock('run'), changes=('run/**',), check=file_absent('run/.lock')),
    Case('train: --lr 1e30 stops at the first non-finite loss', 'kpvp_train_keypoints', lambda w: NEW1(w, '--steps', '30', '--lr', '1e30', '--ckpt-every', '1'), 1,
         ('non-finite', 'learning rate too high'), changes=NEW_RUN, check=lambda w, o: _nan_stop(w / 'new', o)),
    Case('train: an unreadable frame at step 3 keeps steps 1-3', 'kpvp_train_keypoints', lambda w: NEW1(w, '--steps', '20', '--ckpt-every', '100'), 1,
         ('000001.png: cannot read this frame', 'checkpoint written at step 3'), setup=break_video_at_step(3), changes=NEW_RUN,
         check=checkpoint_at_least('new/checkpoints', 3)),
    Case('train: --resume with a changed setting is refused', 'kpvp_train_keypoints', lambda w: S1(w, '--steps', '4', '--resume', '--lambda-sep', '0.3'), 2,
         ('a resumed run keeps its config', 'lambda_sep (--lambda-sep): 1 -> 0.3')),
    Case('train: any config field from the command line', 'kpvp_train_keypoints', lambda w: NEW1(w, '--steps', '1', '--lambda-sep', '0.5', '--gap', '2,3', '--no-channels-last'), 0,
         ('trained to step 1',), changes=NEW_RUN, check=lambda w, o: _saved(w / 'new', lambda_sep=0.5, gap=[2, 3], channels_last=False)),
    Case('train: a malformed tuple', 'kpvp_train_keypoints', lambda w: NEW1(w, '--gap', '2,x'), 2, ('--gap takes comma-separated ints',), check=file_absent('new')),
    Case('train: gap out of order', 'kpvp_train_keypoints', lambda w: NEW1(w, '--gap', '5,2'), 2, ('gap must be two whole numbers 1 <= a <= b',), check=file_absent('new')),
    Case('train: the run folder is a file', 'kpvp_train_keypoints', lambda w: S1(w, '--steps', '2')[:3] + [w / 'img.png'] + S1(w)[4:], 1, ('not a folder',)),
    Case('train: no such data folder', 'kpvp_train_keypoints', lambda w: ['--data', w / 'nodata'] + NEW1(w, '--steps', '2')[2:], 1, ('nodata',), check=file_absent('new')),
    Case('train: an empty data folder', 'kpvp_train_keypoints', lambda w: ['--data', w / 'empty'] + NEW1(w, '--steps', '2')[2:], 1, ('empty',),
         setup=lambda w: (w / 'empty').mkdir(), check=file_absent('new')),
    Case('train: unknown preset', 'kpvp_train_keypoints', lambda w: NEW1(w)[:5] + ['gpu'] + NEW1(w)[6:], 2, ("invalid choice: 'gpu'",)),
    Case('train: unknown precision', 'kpvp_train_keypoints', lambda w: NEW1(w, '--mixed-precision', 'fp8'), 2, ("invalid choice: 'fp8'",)),
] + [
    Case(f'train: --{flag} {value}', 'kpvp_train_keypoints', (lambda f, v: lambda w: NEW1(w, f'--{f}', v))(flag, value), 2, (says,), check=file_absent('new'))
    for flag, value, says in [('steps', '0', 'steps (--steps) must be an integer >= 1, got 0'), ('steps', '-5', 'steps (--steps)'),
                              ('size', '0', 'size (--size) must be an integer >= 8'), ('size', '36', 'size must be a multiple of 8'),
                              ('n-kp', '0', 'n_kp (--n-kp) must be an integer >= 1'), ('width', '-1', 'width (--width) must be a finite number > 0'),
                              ('width', 'nan', 'width (--width)'), ('lr', 'nan', 'lr (--lr) must be a finite number > 0, got nan'), ('lr', '0', 'lr (--lr)'),
                              ('batch-size', '0', 'batch_size (--batch-size)'), ('minutes', '0', '--minutes must be a finite number > 0'),
                              ('same-p', '1.5', 'same_p (--same-p) must be a finite number >= 0 and <= 1'), ('num-workers', '-1', 'num_workers (--num-workers)'),
                              ('ckpt-every', '0', 'ckpt_every (--ckpt-every)'), ('seed', '-1', 'seed (--seed)')]
] + [
    # -- kpvp_train_motion
    Case('motion: existing stage 2 without --resume changes nothing', 'kpvp_train_motion', lambda w: S2(w, '--steps', '4'), 1, ('already holds checkpoints',)),
    Case('motion: --resume with nothing to resume', 'kpvp_train_motion', lambda w: S2(w, '--steps', '4', '--resume'), 1, ('nothing to resume',),
         setup=lambda w: shutil.rmtree(w / 'run' / 'motion'), check=file_absent('run/motion')),
    Case('motion: NaN in the pseudo-labels', 'kpvp_train_motion', lambda w: S2(w, '--steps', '4'), 1, ('non-finite keypoint values', '.npy'),
         setup=lambda w: (shutil.rmtree(w / 'run' / 'motion'), nan_labels(w)), check=file_absent('run/motion/checkpoints')),
    Case('motion: pseudo-labels that are not arrays', 'kpvp_train_motion', lambda w: S2(w, '--steps', '4'), 1, ('cannot read these pseudo-labels',),
         setup=lambda w: (shutil.rmtree(w / 'run' / 'motion'), sorted((w / 'run' / 'keypoints' / 'train').glob('*/*.npy'))[0].write_bytes(b'junk'))),
    Case('motion: no pseudo-labels and no --data', 'kpvp_train_motion', lambda w: S2(w, '--steps', '4'), 1, ('kpvp_extract_keypoints',),
         setup=lambda w: (shutil.rmtree(w / 'run' / 'motion'), shutil.rmtree(w / 'run' / 'keypoints'))),
    Case('motion: --resume with a changed setting is refused', 'kpvp_train_motion', lambda w: S2(w, '--steps', '4', '--resume', '--lambda-kl', '5'), 2,
         ('a resumed run keeps its config', 'lambda_kl (--lambda-kl): 0.1 -> 5')),
    Case('motion: --scale out of order', 'kpvp_train_motion', lambda w: S2(w, '--scale', '1.2,0.5'), 2, ('scale must be two numbers 0 < lo <= hi',)),
    Case('motion: no such run', 'kpvp_train_motion', lambda w: ['--run', w / 'nowhere', '--steps', '2'], 1, ('nowhere: no such run folder',), check=file_absent('nowhere')),
    Case('motion: a folder that is not a stage-1 run', 'kpvp_train_motion', lambda w: ['--run', w / 'data', '--steps', '2'], 1, ('not a stage-1 run folder',)),
    Case('motion: another process holds stage 2', 'kpvp_train_motion', lambda w: S2(w, '--steps', '4', '--resume'), 1, ('is in use by process',),
         setup=held_lock('run/motion')),
    Case('motion: --lr 1e10 stops at the first non-finite loss', 'kpvp_train_motion', lambda w: S2(w, '--steps', '40', '--lr', '1e10'), 1,
         ('non-finite loss at step',), setup=lambda w: shutil.rmtree(w / 'run' / 'motion'), changes=('run/motion/**',),
         check=lambda w, o: _nan_stop(w / 'run' / 'motion', o)),
] + [
    Case(f'motion: --{flag} {value}', 'kpvp_train_motion', (lambda f, v: lambda w: S2(w, f'--{f}', v))(flag, value), 2, (says,))
    for flag, value, says in [('steps', '0', 'steps (--steps) must be an integer >= 1'), ('hidden', '0', 'hidden (--hidden)'),
                              ('latent', '0', 'latent (--latent)'), ('batch-size', '-1', 'batch_size (--batch-size)'),
                              ('lr', 'inf', 'lr (--lr)'), ('minutes', '-5', '--minutes must be')]
] + [
    # -- kpvp_extract_keypoints
    Case('extract: --batch-size 0', 'kpvp_extract_keypoints', lambda w: ['--run', w / 'run', '--data', w / 'data', '--batch-size', '0'], 2, ('batch_size (--batch-size)',)),
    Case('extract: no such run', 'kpvp_extract_keypoints', lambda w: ['--run', w / 'nowhere', '--data', w / 'data'], 1, ('nowhere',)),
    Case('extract: no such data', 'kpvp_extract_keypoints', lambda w: ['--run', w / 'run', '--data', w / 'nodata'], 1, ('nodata',),
         setup=lambda w: shutil.rmtree(w / 'run' / 'keypoints')),
    # -- kpvp_eval_keypoints
    Case('eval keypoints: --stride 0', 'kpvp_eval_keypoints', lambda w: EK(w)[:-2] + ['--stride', '0'], 2, ('--stride must be an integer >= 1',)),
    Case('eval keypoints: --n-pairs 0', 'kpvp_eval_keypoints', lambda w: EK(w)[:4] + ['--n-pairs', '0'], 2, ('--n-pairs',)),
    Case('eval keypoints: no such run', 'kpvp_eval_keypoints', lambda w: ['--run', w / 'nowhere', '--data', w / 'data'], 1, ('--run', 'nowhere: no such folder')),
    Case('eval keypoints: no such data', 'kpvp_eval_keypoints', lambda w: ['--run', w / 'run', '--data', w / 'nodata'], 1, ('--data', 'nodata')),
    Case('eval keypoints: --json is a folder', 'kpvp_eval_keypoints', lambda w: EK(w, '--json', w / 'data'), 2, ('is a folder',)),
    Case('eval keypoints: a run without checkpoints', 'kpvp_eval_keypoints', EK, 1, ('no checkpoint yet',), setup=lambda w: shutil.rmtree(w / 'run' / 'checkpoints')),
    # -- kpvp_evaluate
    Case('evaluate: --samples 0', 'kpvp_evaluate', lambda w: EV(w, '--samples', '0'), 2, ('--samples',)),
    Case('evaluate: --temperature nan', 'kpvp_evaluate', lambda w: EV(w, '--temperature', 'nan'), 2, ('--temperature',)),
    Case('evaluate: --max-videos 0', 'kpvp_evaluate', lambda w: EV(w)[:-2] + ['--max-videos', '0'], 2, ('--max-videos',)),
    Case('evaluate: unknown metric', 'kpvp_evaluate', lambda w: ['--run', w / 'run', '--data', w / 'data', '--metrics', 'lpipz'], 2, ("invalid choice: 'lpipz'",)),
    Case('evaluate: no such run', 'kpvp_evaluate', lambda w: ['--run', w / 'nowhere'] + EV(w)[2:], 1, ('--run', 'nowhere')),
    Case('evaluate: --json under a file', 'kpvp_evaluate', lambda w: EV(w, '--json', w / 'img.png' / 'r.json'), 1, ('r.json: cannot write here',)),
    # -- kpvp_make_synthetic
    Case('synthetic: into a folder of the user\'s videos', 'kpvp_make_synthetic', lambda w: ['--out', w / 'mine', '--videos', '14', '--n-frames', '3', '--quiet'], 1,
         ('mine',), setup=lambda w: write('mine/train/own/clip.mp4', b'my video')(w)),
    Case('synthetic: --overwrite on the user\'s videos', 'kpvp_make_synthetic', lambda w: ['--out', w / 'mine', '--videos', '14', '--n-frames', '3', '--quiet', '--overwrite'], 1,
         ('mine',), setup=lambda w: write('mine/train/own/clip.mp4', b'my video')(w)),
    Case('synthetic: its own dataset without --overwrite', 'kpvp_make_synthetic', lambda w: ['--out', w / 'data', '--videos', '14', '--n-frames', '3', '--quiet'], 1, ('overwrite',)),
    Case('synthetic: --videos 0', 'kpvp_make_synthetic', lambda w: ['--out', w / 'syn', '--videos', '0'], 2, ('--videos',), check=file_absent('syn')),
    Case('synthetic: --size 0', 'kpvp_make_synthetic', lambda w: ['--out', w / 'syn', '--size', '0'], 2, ('--size',), check=file_absent('syn')),
    Case('synthetic: --fps 0', 'kpvp_make_synthetic', lambda w: ['--out', w / 'syn', '--fps', '0'], 2, ('--fps',), check=file_absent('syn')),
    Case('synthetic: --test-frac 1.5', 'kpvp_make_synthetic', lambda w: ['--out', w / 'syn', '--test-frac', '1.5'], 2, ('--test-frac',), check=file_absent('syn')),
    # -- kpvp_fvd
    Case('fvd: no such folder of videos', 'kpvp_fvd', lambda w: ['--real', w / 'data', '--fake', w / 'nowhere'], 2, ('nowhere: no such folder',)),
    Case('fvd: --n-frames 3', 'kpvp_fvd', lambda w: ['--real', w / 'data', '--fake', w / 'data', '--n-frames', '3'], 2, ('--n-frames must be an integer >= 9',)),
    Case('fvd: --batch-size 0', 'kpvp_fvd', lambda w: ['--real', w / 'data', '--fake', w / 'data', '--batch-size', '0'], 2, ('--batch-size',)),
    Case('fvd: weights that are a hostile pickle', 'kpvp_fvd', lambda w: ['--real', w / 'data', '--fake', w / 'data', '--weights', w / 'evil.ckpt'], 1,
         ('is not allowed here',), setup=lambda w: (w / 'evil.ckpt').write_bytes(__import__('pickle').dumps(_Evil())), check=not_pwned),
    Case('fvd: no such weights file', 'kpvp_fvd', lambda w: ['--real', w / 'data', '--fake', w / 'data', '--weights', w / 'none.npz'], 1, ('none.npz',)),
    # -- kpvp_prepare_data
    Case('prepare: unknown dataset', 'kpvp_prepare_data', lambda w: ['--dataset', 'kth', '--data', w / 'k'], 2, ("invalid choice: 'kth'",)),
    Case('prepare: a truncated archive', 'kpvp_prepare_data', lambda w: ['--dataset', 'penn', '--data', w / 'penn', '--archive', w / 'cut.tar.gz', '--quiet'], 1,
         ('cut.tar.gz',), setup=lambda w: write('cut.tar.gz', tar_bytes([('Penn_Action/frames/0001/000001.jpg', 'f', os.urandom(50_000))])[:20_000])(w),
         changes=('penn/**',), check=lambda w, o: _no_partial_tree(w / 'penn')),
    Case('prepare: chained symlinks in an archive', 'kpvp_prepare_data', lambda w: ['--dataset', 'penn', '--data', w / 'penn', '--archive', w / 'links.tar.gz', '--quiet'], 1,
         ('link',), setup=write('links.tar.gz', tar_bytes([('b', 'sym', '.'), ('a', 'sym', 'b/..'), ('a/../x', 'f', b'escape')])),
         changes=('penn/**',), check=lambda w, o: (_no_partial_tree(w / 'penn'), file_absent('x')(w, o))),
    Case('prepare: the server sends an HTML page', 'kpvp_prepare_data', lambda w: ['--dataset', 'penn', '--data', w / 'penn', '--url', html_url(), '--quiet'], 1,
         ('an HTML page, not a gzip archive', 'nothing was kept'), changes=('penn/**',), check=lambda w, o: _no_partial_tree(w / 'penn')),
    # -- kpvp_demo
    Case('demo: --minutes 0', 'kpvp_demo', lambda w: ['--out', w / 'demo', '--minutes', '0'], 2, ('minutes (--minutes)',), check=file_absent('demo')),
    Case('demo: --videos 3', 'kpvp_demo', lambda w: ['--out', w / 'demo', '--videos', '3'], 2, ('videos (--videos) must be an integer >= 14',)),
    Case('demo: --out is a file', 'kpvp_demo', lambda w: ['--out', w / 'img.png'], 1, ('not a folder',)),
    # -- the installed scripts themselves: exit codes and tracebacks
    Case('installed script: a failure is one line, exit 1', 'kpvp_predict', lambda w: PRED(w)[:1] + [w / 'nowhere'] + PRED(w)[2:], 1, ('kpvp_predict: error:',), subprocess=True),
    Case('installed script: a usage error, exit 2', 'kpvp_train_keypoints', lambda w: NEW1(w, '--steps', '0'), 2, ('kpvp_train_keypoints: error: steps',), subprocess=True),
]

DEBUG_CASES = [   # the traceback is shown when asked for
    Case('--debug shows the traceback', 'kpvp_predict', lambda w: PRED(w)[:1] + [w / 'nowhere'] + PRED(w)[2:] + ['--debug'], 1, ('Traceback',), subprocess=True),
    Case('KPVP_DEBUG=1 shows the traceback', 'kpvp_predict', lambda w: PRED(w)[:1] + [w / 'nowhere'] + PRED(w)[2:], 1, ('Traceback',), subprocess=True, env={'KPVP_DEBUG': '1'}),
]

def _nan_stop(run:Path, out):
    "A run stopped by a non-finite loss: no checkpoint at or after the bad step (named in the message)."
    import re
    step = int(re.search(r'non-finite (?:loss|weights) at step (\d+)', out).group(1))
    no_checkpoint_after(run / 'checkpoints', step)(run, out)

def _saved(run:Path, **want):
    cfg = json.loads((run / 'config.json').read_text())
    for k, v in want.items(): assert cfg[k] == v, (k, cfg[k], v)

def _no_temporaries(w:Path):
    left = [p.name for p in w.iterdir() if p.name.startswith('.out.mp4')]
    assert not left, left

def _no_partial_tree(root:Path):
    "After a failed extraction: nothing but (at most) an empty root."
    assert not root.exists() or not any(root.rglob('*')), sorted(str(p) for p in root.rglob('*'))

@pytest.mark.parametrize('case', CASES + DEBUG_CASES, ids=lambda c: c.name)
def test_fault(case, world, tmp_path, capsys):
    w = tmp_path / 'w'; shutil.copytree(world, w, symlinks=True)
    if case.setup: case.setup(w)
    before = snapshot(w)
    code, out, err = run_case(case, w, capsys)
    text = err + (out if case.code == 0 or case.subprocess else '')
    assert code == case.code, f'exit {code}, expected {case.code}\nstderr: {err[-1500:]}'
    for s in case.says: assert s in text, f'{s!r} not in the output:\n{text[-1500:]}'
    if case not in DEBUG_CASES: assert 'Traceback' not in err, err[-1500:]
    if case.code != 0 and 'error:' not in err and case not in DEBUG_CASES: raise AssertionError(f'no one-line error on stderr:\n{err[-800:]}')
    after = snapshot(w)
    from fnmatch import fnmatch
    may = lambda rel: any(fnmatch(rel, g) for g in case.changes)
    changed = sorted(f for f in before if f not in after or after[f] != before[f])
    changed = [f for f in changed if not may(f)]
    assert not changed, f'files changed or deleted: {changed}'
    new = sorted(f for f in after if f not in before and not may(f))
    assert not new, f'new files: {new}'
    if case.check: case.check(w, text)

def teardown_module():
    for p in _children: p.kill()

@pytest.mark.parametrize('script, cls', [('kpvp_train_keypoints', 'kpvp_nb.stage1:Stage1Config'), ('kpvp_train_motion', 'kpvp_nb.stage2:Stage2Config')])
def test_every_config_field_has_a_flag(script, cls, capsys):
    "The training commands' options are generated from their config dataclasses: every field that is a number, string, flag or tuple can be set."
    import dataclasses, importlib
    mod, name = cls.split(':'); C = getattr(importlib.import_module(mod), name)
    with pytest.raises(SystemExit): SCRIPTS[script].load()(['--help'])
    h = capsys.readouterr().out
    missing = [f.name for f in dataclasses.fields(C) if f.name not in ('betas', 'vgg_layers', 'class_cond') and f"--{f.name.replace('_', '-')}" not in h]
    assert not missing, missing

def test_matrix_size():
    "The issue asks for every listed case and at least 40 more."
    assert len(CASES) + len(DEBUG_CASES) >= 90, len(CASES)
