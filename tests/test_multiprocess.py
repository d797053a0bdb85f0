"""Several processes through accelerate: both stages trained by two launched CPU processes (gloo).

What multi-GPU training promises, held on a CPU: each process draws its own slice of the deterministic
sample stream (together the batch one process with the global batch would draw), only rank 0 writes
(one config, one log, each checkpoint once, the lock taken and released), the processes stop together
(at a time limit reached on one clock only; at SIGTERM), and the run resumes in a single process.

`accelerate launch --cpu --num_processes 2` starts ONE process (accelerate runs several CPU processes
only through mpirun), so the launch here is `--multi_gpu --num_processes 2` with the command's own
`--cpu`: torch.distributed.run starts two processes that use gloo, where GPUs would use NCCL.
The launched script is the console script's function behind a small recorder (`RECORDER`) that notes
which sample numbers each process draws and which checkpoints it writes.
"""
import csv, itertools, json, os, shutil, signal, socket, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from kpvp_nb.training import SampleStream, _Numbers, stream_loader, list_checkpoints, verify_checkpoint

BS = 2                                                  # --batch-size, per process; no loader workers, so no prefetching
STAGE1 = ['--preset', 'cpu', '--size', '32', '--n-kp', '4', '--width', '0.125', '--batch-size', str(BS), '--num-workers', '0']
STAGE2 = ['--preset', 'cpu', '--hidden', '16', '--latent', '4', '--batch-size', str(BS)]

RECORDER = r'''
import os, sys, time
from pathlib import Path
import kpvp_nb.training as T
rank, rec = os.environ.get('RANK', '0'), Path(os.environ['KPVP_RECORD'])
def note(kind, value):
    with open(rec / f'{kind}_rank{rank}.txt', 'a') as f: f.write(f'{value}\n')
get, save, start = T.SampleStream.__getitem__, T.save_checkpoint, T.Trainer._start
def getitem(self, n): note('samples', n); return get(self, n)
def save_checkpoint(folder, step, *a, **k): note('saves', step); return save(folder, step, *a, **k)
def late_start(self, resume):                           # rank 1 reaches the loop later: the processes' clocks differ
    start(self, resume)
    if rank == '1': time.sleep(float(os.environ.get('KPVP_SKEW', '0')))
T.SampleStream.__getitem__, T.save_checkpoint, T.Trainer._start = getitem, save_checkpoint, late_start
if sys.argv.pop(1) == 'kpvp_train_keypoints': from kpvp_nb.cli import train_keypoints_cli as main
else: from kpvp_nb.cli import train_motion_cli as main
main()
'''

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def launch(root:Path, rec:Path, command:str, *args, skew:float=0.) -> subprocess.Popen:
    "`accelerate launch` two CPU processes of `command` (recorded into `rec`), with no accelerate config file."
    rec.mkdir()
    (root / 'recorder.py').write_text(RECORDER)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('ACCELERATE_', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_', 'TORCHELASTIC_'))}
    env.update(HF_HOME=str(root / 'hf'), OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', KPVP_RECORD=str(rec), KPVP_SKEW=str(skew))
    cmd = [sys.executable, '-m', 'accelerate.commands.launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1',
           '--mixed_precision', 'no', '--dynamo_backend', 'no', '--main_process_port', str(free_port()),
           str(root / 'recorder.py'), command, *map(str, args), '--device', 'cpu']
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

def tree(pid:int) -> list[int]:
    "`pid` and its descendants (torch.distributed.run starts each worker in a session of its own)."
    kids = {}
    for d in Path('/proc').iterdir() if Path('/proc').is_dir() else []:
        try: kids.setdefault(int((d / 'stat').read_text().rsplit(')', 1)[1].split()[1]), []).append(int(d.name))
        except (OSError, ValueError, IndexError): continue
    out, todo = [], [pid]
    while todo: out.append(todo.pop()); todo += kids.get(out[-1], [])
    return out

def finish(p:subprocess.Popen, timeout:float=240) -> str:
    try: out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in tree(p.pid):
            try: os.kill(pid, signal.SIGKILL)
            except ProcessLookupError: pass
        out, _ = p.communicate()
        pytest.fail(f"the launched run hung (killed after {timeout} s):\n{out[-3000:]}")
    return out

def lines(f:Path) -> list[int]: return [int(l) for l in f.read_text().split()] if f.exists() else []

def logged_steps(run:Path) -> list[int]:
    with open(run / 'log.csv') as f: return [int(float(r['step'])) for r in csv.DictReader(f)]

def expected_log(k:int, log_every:int=25) -> list[int]: return sorted({s for s in range(1, k + 1) if s % log_every == 0} | {k})

def check_slices(rec:Path, steps:int):
    "Each process drew its own slice of every batch; together, what one process with a batch of 2 x BS draws."
    r0, r1 = lines(rec / 'samples_rank0.txt'), lines(rec / 'samples_rank1.txt')
    for r, got in enumerate((r0, r1)):
        assert got == [(s * 2 + r) * BS + j for s in range(steps) for j in range(BS)], (r, got)
    assert not set(r0) & set(r1)
    assert sorted(r0 + r1) == list(itertools.islice(_Numbers(0, 2 * BS, 0, 1), steps * 2 * BS))

def check_written_once(run:Path, rec:Path, saved:list[int], keep:int=2):
    "Rank 0 wrote each checkpoint once, rank 1 none; no partial checkpoint, temporary file or lock is left."
    assert lines(rec / 'saves_rank0.txt') == saved and not (rec / 'saves_rank1.txt').exists()
    cks = list_checkpoints(run / 'checkpoints')
    assert [int(p.name[5:]) for p in cks] == saved[-keep:]
    for ck in cks: verify_checkpoint(ck)
    assert not [p for p in run.rglob('*') if p.name.startswith('.') or p.suffix == '.tmp'], 'temporary files or a lock left behind'
    assert json.loads((run / 'config.json').read_text())['batch_size'] == BS

def record_in_process(monkeypatch) -> list:
    "Sample numbers drawn by a run in this process."
    drawn, get = [], SampleStream.__getitem__
    def getitem(self, n): drawn.append(n); return get(self, n)
    monkeypatch.setattr(SampleStream, '__getitem__', getitem)
    return drawn

# ---------------------------------------------------------------- the sampler alone
def test_each_process_draws_its_own_slice_of_the_stream():
    class Toy:
        n_items = 5
        def sample(self, i, g): return {'i': torch.tensor(i), 'x': torch.rand(3, generator=g)}
    for start in (0, 7):                                        # a new run, and a resumed one
        world = [iter(stream_loader(Toy(), BS, seed=1, start_step=start, rank=r, world=3)) for r in range(3)]
        one = iter(stream_loader(Toy(), 3 * BS, seed=1, start_step=start))
        for s in range(4):
            parts, whole = [next(w) for w in world], next(one)
            for k in ('i', 'x'): assert torch.equal(torch.cat([p[k] for p in parts]), whole[k])
        nums = [list(itertools.islice(_Numbers(start, BS, r, 3), 4 * BS)) for r in range(3)]
        assert len(set().union(*map(set, nums))) == 3 * 4 * BS      # no sample twice
        assert sorted(sum(nums, [])) == list(range(start * 3 * BS, (start + 4) * 3 * BS))

# ---------------------------------------------------------------- stage 1: two processes stopped by a time limit
@pytest.fixture(scope='module')
def stage1(tmp_path_factory):
    "A stage-1 run by two processes; process 1 starts 1 s late, so only process 0's clock reaches the 2 s limit first."
    from kpvp_nb.synthetic import make_synthetic
    root = tmp_path_factory.mktemp('multi')
    make_synthetic(root / 'data', 14, size=32, n_frames=12, seed=3, progress=False, workers=1)
    p = launch(root, root / 'rec1', 'kpvp_train_keypoints', '--data', root / 'data', '--run', root / 'run', *STAGE1,
               '--steps', 400, '--ckpt-every', 2, '--minutes', 2 / 60, skew=1.0)
    out = finish(p)
    assert p.returncode == 0, out[-3000:]
    return root, out

def test_stage1_two_processes(stage1):
    root, out = stage1
    run, rec = root / 'run', root / 'rec1'
    k = max(lines(rec / 'saves_rank0.txt'))
    assert 1 <= k < 400 and f"time limit reached at step {k}" in out
    assert out.count('trained to step') == 1 and f'trained to step {k};' in out   # the main process alone reports
    check_slices(rec, k)                                        # and both processes stopped after step k
    check_written_once(run, rec, sorted(set(range(2, k + 1, 2)) | {k}))
    assert logged_steps(run) == expected_log(k)

def test_stage1_resumes_in_one_process(stage1, monkeypatch, capsys):
    from kpvp_nb.cli import train_keypoints_cli
    root, _ = stage1
    run = root / 'run1'; shutil.copytree(root / 'run', run)     # stage 2 trains on the launched run as it is
    k = int(list_checkpoints(run / 'checkpoints')[-1].name[5:])
    drawn = record_in_process(monkeypatch)
    train_keypoints_cli(['--data', root / 'data', '--run', run, *STAGE1, '--steps', k + 2, '--resume'])
    assert f'from step_{k:07d}' in capsys.readouterr().out
    # the step goes on from k; the stream is the resumed run's own (1 process of BS: batches k, k+1)
    assert drawn == list(range(k * BS, (k + 2) * BS))
    assert logged_steps(run) == expected_log(k) + [k + 2]
    assert list_checkpoints(run / 'checkpoints')[-1].name == f'step_{k + 2:07d}' and not (run / '.lock').exists()

# ---------------------------------------------------------------- stage 2: two processes stopped by SIGTERM
@pytest.fixture(scope='module')
def stage2(stage1):
    "Stage 2 by two processes (pseudo-labels extracted on the way, as `--data` asks), stopped by SIGTERM after a few steps."
    root, _ = stage1
    rec = root / 'rec2'
    p = launch(root, rec, 'kpvp_train_motion', '--run', root / 'run', '--data', root / 'data', *STAGE2, '--steps', 5000)
    t0 = time.time()
    while min(len(lines(rec / f'samples_rank{r}.txt')) for r in (0, 1)) < 3 * BS:
        if p.poll() is not None or time.time() - t0 > 180: break
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)                               # to the launcher, as a scheduler would; it passes it on
    out = finish(p, 120)
    return root, out, p.returncode

def test_stage2_two_processes(stage2):
    root, out, code = stage2
    run, rec = root / 'run' / 'motion', root / 'rec2'
    saved = lines(rec / 'saves_rank0.txt')
    assert code != 0 and len(saved) == 1, out[-3000:]
    k = saved[0]
    assert 3 <= k < 5000 and f'interrupted at step {k}: checkpoint written' in out
    check_slices(rec, k)                                        # both stopped after step k
    check_written_once(run, rec, [k])
    assert logged_steps(run) == list(range(25, k + 1, 25))      # every 25 steps; the interrupted step is not logged
    assert len(list((root / 'run' / 'keypoints').rglob('*.npy'))) == 14
    assert not [p for p in (root / 'run').rglob('.*')], 'a lock or a temporary file left behind'

def test_stage2_resumes_in_one_process(stage2, monkeypatch, capsys):
    from kpvp_nb.cli import train_motion_cli
    root, _, _ = stage2
    run = root / 'run' / 'motion'
    k = int(list_checkpoints(run / 'checkpoints')[-1].name[5:])
    drawn = record_in_process(monkeypatch)
    train_motion_cli(['--run', root / 'run', *STAGE2, '--steps', k + 2, '--resume'])
    assert f'from step_{k:07d}' in capsys.readouterr().out
    assert drawn == list(range(k * BS, (k + 2) * BS))
    assert logged_steps(run)[-1] == k + 2
    assert list_checkpoints(run / 'checkpoints')[-1].name == f'step_{k + 2:07d}' and not (run / '.lock').exists()
