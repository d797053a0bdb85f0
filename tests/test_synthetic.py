"""End-to-end tests of the `kpvp_make_synthetic` command (the notebook tests the library itself)."""
import json, shutil, subprocess, sys

import numpy as np
import pytest

from kpvp_nb.cli import make_synthetic_cli
from kpvp_nb.synthetic import ACTIONS, render_video
from kpvp_nb.video import read_video


def _cmd():
    "The installed console script, or the same entry point through this Python."
    exe = shutil.which('kpvp_make_synthetic')
    return [exe] if exe else [sys.executable, '-c', 'from kpvp_nb.cli import make_synthetic_cli; make_synthetic_cli()']


def test_cli_writes_a_dataset(tmp_path):
    out = tmp_path / 'syn'
    r = subprocess.run(_cmd() + ['--out', str(out), '--videos', '14', '--size', '32', '--n-frames', '3',
                                 '--seed', '5', '--test-frac', '0.5', '--quiet'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'wrote 14 videos (7 train, 7 test)' in r.stdout
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['size'] == 32 and meta['n_frames'] == 3 and meta['seed'] == 5
    for split in ('train', 'test'):
        assert sorted(p.name for p in (out / split).iterdir()) == sorted(ACTIONS)
        assert set(meta['counts'][split].values()) == {1}
    v = meta['videos'][0]
    w = render_video(v['action'], v['seed'], 32, 3)
    assert np.array_equal(read_video(out / v['path']), w.frames)
    assert np.array_equal(np.load(out / v['keypoints']), w.joints)


def test_cli_refuses_bad_input(tmp_path):
    r = subprocess.run(_cmd() + ['--out', str(tmp_path / 'x'), '--videos', '10'], capture_output=True, text=True)
    assert r.returncode == 2 and 'at least 14' in r.stderr        # too few videos for both splits of every action
    assert r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr and not (tmp_path / 'x').exists()
    r = subprocess.run(_cmd() + ['--out', str(tmp_path / 'x'), '--format', 'avi'], capture_output=True, text=True)
    assert r.returncode == 2 and 'invalid choice' in r.stderr


def test_cli_overwrite(tmp_path):
    args = ['--out', str(tmp_path / 'd'), '--videos', '2', '--n-frames', '2', '--actions', 'squats', '--test-frac', '0', '--quiet']
    make_synthetic_cli(args)
    with pytest.raises(SystemExit) as e:                            # a second run would mix two datasets
        make_synthetic_cli(args)
    assert e.value.code == 1                                        # a refused folder is a failure (1), not a usage error (2)
    make_synthetic_cli(args + ['--overwrite'])
    assert len(json.loads((tmp_path / 'd' / 'meta.json').read_text())['videos']) == 2


@pytest.mark.parametrize('flag,value', [('--videos', '0'), ('--size', '0'), ('--n-frames', '0'), ('--fps', '0'),
                                        ('--test-frac', '1.5'), ('--jitter', '-1'), ('--num-workers', '0')])
def test_cli_refuses_bad_numbers(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as e:
        make_synthetic_cli(['--out', str(tmp_path / 'x'), flag, value, '--quiet'])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith('kpvp_make_synthetic: error: ') and err.count('\n') == 1, err
    assert f'({flag})' in err and 'Traceback' not in err
    assert not (tmp_path / 'x').exists()                            # refused before anything was written


def test_cli_leaves_other_folders_alone(tmp_path):
    user = tmp_path / 'user'
    (user / 'train' / 'mine' / 'clip').mkdir(parents=True)          # someone's own video-folder dataset
    (user / 'train' / 'mine' / 'clip' / '000000.png').write_bytes(b'a frame')
    (user / 'train' / 'mine' / 'other.mp4').write_bytes(b'a video')
    (user / 'notes.txt').write_text('mine\n')
    files = lambda: {p.relative_to(user).as_posix(): p.read_bytes() if p.is_file() else None for p in sorted(user.rglob('*'))}
    before = files()
    args = ['--out', str(user), '--videos', '7', '--size', '16', '--n-frames', '1', '--test-frac', '0', '--quiet']
    r = subprocess.run(_cmd() + args + ['--overwrite'], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr, r.stderr
    assert str(user) in r.stderr and 'notes.txt' in r.stderr and 'new or empty folder' in r.stderr
    assert files() == before
    with pytest.raises(SystemExit) as e:
        make_synthetic_cli(args)
    assert e.value.code == 1 and files() == before
