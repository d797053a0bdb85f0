"""End-to-end tests of the `kpvp_prepare_data` command (the notebook tests the library itself)."""
import shutil, subprocess, sys, tarfile

import pytest

from kpvp_nb.cli import prepare_data_cli
from kpvp_nb.datasets import make_mini_penn, make_mini_frames, open_dataset


def _cmd():
    "The installed console script, or the same entry point through this Python."
    exe = shutil.which('kpvp_prepare_data')
    return [exe] if exe else [sys.executable, '-c', 'from kpvp_nb.cli import prepare_data_cli; prepare_data_cli()']


def test_penn_from_an_archive(tmp_path):
    mini = make_mini_penn(tmp_path / 'src' / 'Penn_Action')
    arc = tmp_path / 'Penn_Action.tar.gz'
    with tarfile.open(arc, 'w:gz') as t: t.add(mini, arcname='Penn_Action')
    r = subprocess.run(_cmd() + ['--dataset', 'penn', '--data', str(tmp_path / 'data'), '--archive', str(arc)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'train: 3 videos' in r.stdout and 'test: 1 videos' in r.stdout and 'SHA-256' in r.stdout
    ds = open_dataset('penn', 'train', root=tmp_path / 'data', missing='skip')
    assert [v.name for v in ds.records] == ['2209', '1150', '0701']


def _cli(capsys, *args):
    "Run the command in this process: (exit status, stdout, stderr)."
    try: prepare_data_cli([str(a) for a in args]); code = 0
    except SystemExit as e: code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_already_prepared_and_manual_steps(tmp_path, capsys):
    make_mini_penn(tmp_path / 'data' / 'Penn_Action')
    (tmp_path / 'data' / '.kpvp_extracted').write_text('by hand')
    code, out, err = _cli(capsys, '--dataset', 'penn', '--data', tmp_path / 'data', '--no-download')
    assert code == 0 and 'unpacking' not in out and 'train: 3 videos' in out, err
    code, out, err = _cli(capsys, '--dataset', 'penn', '--data', tmp_path / 'p', '--no-download')
    assert code == 1 and 'Manual steps' in err and str(tmp_path / 'p' / 'Penn_Action.tar.gz') in err
    code, out, err = _cli(capsys, '--dataset', 'nemo', '--data', tmp_path / 'n')
    assert code == 1 and 'yadi.sk/d/lHdX-fdMKVx2Dw' in err
    code, out, err = _cli(capsys, '--dataset', 'kth', '--data', tmp_path / 'k')
    assert code == 2 and 'invalid choice' in err


def test_frames_dataset_in_place(tmp_path, capsys):
    make_mini_frames(tmp_path / 'mgif', formats=('gif', 'png'))
    code, out, err = _cli(capsys, '--dataset', 'mgif', '--data', tmp_path / 'mgif')
    assert code == 0, err
    assert 'train: 3 videos' in out and 'test: 1 videos' in out


def test_truncated_archive_leaves_nothing(tmp_path, capsys):
    mini = make_mini_penn(tmp_path / 'src' / 'Penn_Action')
    whole = tmp_path / 'whole.tar.gz'
    with tarfile.open(whole, 'w:gz') as t: t.add(mini, arcname='Penn_Action')
    arc = tmp_path / 'Penn_Action.tar.gz'; arc.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    before = arc.read_bytes()
    code, out, err = _cli(capsys, '--dataset', 'penn', '--data', tmp_path / 'data', '--archive', arc)
    assert code == 1 and err.startswith('kpvp_prepare_data: error: ') and err.count('\n') == 1 and 'Traceback' not in err, err
    assert 'truncated or corrupt archive' in err and '(--archive) was left as it is' in err
    assert arc.read_bytes() == before                                  # the user's file is never modified
    assert sorted(p.name for p in (tmp_path / 'data').iterdir()) == []   # no partial tree, no marker
    code, out, err = _cli(capsys, '--dataset', 'penn', '--data', tmp_path / 'data', '--archive', whole)
    assert code == 0 and 'train: 3 videos' in out, err                 # a rerun with a good copy works
    assert sorted(p.name for p in (tmp_path / 'data').iterdir()) == ['.kpvp_extracted', 'Penn_Action']
