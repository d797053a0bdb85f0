"""read_video decodes every frame of a video file once, in order: ffmpeg's own count, frame k showing source frame k.

Clips are made with the ffmpeg binary that imageio-ffmpeg ships; in each, frame k is flat grey 16 + 9k with a white
8x8 square top left, so the index a decoded frame shows survives lossy codecs. A few seconds in all."""
import re, subprocess, warnings
from pathlib import Path

import numpy as np
import pytest
import imageio_ffmpeg

from kpvp_nb.video import read_video, _FrameStack

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
N, H, W = 24, 48, 64
H264 = ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']
MPEG4 = ['-c:v', 'mpeg4', '-q:v', '2']


def index_frames(n=N, h=H, w=W):
    f = np.repeat((16 + 9 * np.arange(n)).astype(np.uint8), h * w * 3).reshape(n, h, w, 3)
    f[:, :8, :8] = 255
    return f


def frame_index(v):
    return np.round((v[:, 8:, 8:].mean((1, 2, 3)) - 16) / 9).astype(int)


def ffmpeg(*args, **kw):
    subprocess.run([FFMPEG, '-v', 'error', '-y', *map(str, args)], check=True, **kw)


def clip(path, *args, n=N, before=(), size=(H, W)):
    "Encode index_frames(n) at 10 fps; `before` are options for the raw input, `args` the output's."
    src = index_frames(n, *size)
    ffmpeg(*before, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', f'{size[1]}x{size[0]}', '-r', '10', '-i', '-',
           *args, path, input=src.tobytes())
    return Path(path)


def ffmpeg_count(path):
    r = subprocess.run([FFMPEG, '-hide_banner', '-i', str(path), '-map', '0:v:0', '-f', 'null', '-'],
                       capture_output=True, text=True)
    m = re.findall(r'frame=\s*(\d+)', r.stderr)
    return int(m[-1]) if m else 0


CLIPS = {
    'h264.mp4': H264,                                                   # B-frames: an edit list
    'start2s.mp4': H264 + ['-output_ts_offset', '2'],
    'h264.mov': H264 + ['-bf', '0'],
    'mpeg4.avi': MPEG4,
    'mpeg4_bf.avi': MPEG4 + ['-bf', '2'],
    'late.avi': MPEG4 + ['-output_ts_offset', '0.1'],                   # an empty chunk first: the old route read 25
    'ffv1.mkv': ['-c:v', 'ffv1'],
    'start2s.mkv': H264 + ['-output_ts_offset', '2'],
    'vfr.mkv': H264 + ['-fps_mode', 'passthrough', '-vf', "settb=1/1000,setpts='(N+3*gt(N\\,10))*100'"],
    'vp9.webm': ['-c:v', 'libvpx-vp9', '-crf', '20', '-b:v', '0'],
    'vp8.webm': ['-c:v', 'libvpx', '-crf', '10', '-b:v', '1M'],
    'ffmpeg.gif': ['-pix_fmt', 'gray'],
}


@pytest.mark.parametrize('name', CLIPS)
def test_every_frame_once(tmp_path, name):
    p = clip(tmp_path / name, *CLIPS[name])
    v = read_video(p)
    assert len(v) == ffmpeg_count(p) == N
    assert frame_index(v).tolist() == list(range(N))
    assert v.shape[1:] == (H, W, 3) and v.dtype == np.uint8
    if name in ('ffv1.mkv', 'ffmpeg.gif'): assert np.array_equal(v, index_frames())


def test_avi_with_audio_that_starts_first(tmp_path):
    "Video 0.1 s behind its MP3 sound track: the old route read 27 frames (0, 0, 0, 1, 1, 2, ...)."
    src, p = clip(tmp_path / 'v.avi', *MPEG4), tmp_path / 'sound.avi'
    ffmpeg('-itsoffset', '0.1', '-i', src, '-f', 'lavfi', '-i', 'sine=r=8000:d=3', '-map', '0:v', '-map', '1:a',
           '-c:v', 'copy', '-c:a', 'libmp3lame', p)
    v = read_video(p)
    assert len(v) == ffmpeg_count(p) == N
    assert frame_index(v).tolist() == list(range(N))


@pytest.mark.parametrize('degrees,turns', [(90, 1), (180, 2), (-90, 3), (270, 3)])
def test_rotation_tag(tmp_path, degrees, turns):
    flat = clip(tmp_path / 'flat.mp4', *H264)
    ffmpeg('-display_rotation', degrees, '-i', flat, '-c', 'copy', tmp_path / 'tagged.mp4')
    v = read_video(tmp_path / 'tagged.mp4')
    assert np.array_equal(v, np.rot90(read_video(flat), turns, axes=(1, 2)))


def test_size_change_mid_stream(tmp_path):
    "Two segments of different sizes in one stream: later frames are scaled to the first size, as ffmpeg does."
    a = clip(tmp_path / 'a.ts', *H264, n=10)
    b = clip(tmp_path / 'b.ts', *H264, '-output_ts_offset', '1', n=10, size=(60, 80))
    (tmp_path / 'ab.ts').write_bytes(a.read_bytes() + b.read_bytes())
    ffmpeg('-i', tmp_path / 'ab.ts', '-c', 'copy', tmp_path / 'ab.mkv')
    v = read_video(tmp_path / 'ab.mkv')
    assert v.shape == (20, H, W, 3) and len(v) == ffmpeg_count(tmp_path / 'ab.mkv')
    assert frame_index(v).tolist() == list(range(10)) * 2


def test_cover_picture_is_not_the_video(tmp_path):
    "An MP4 whose first stream is a cover picture: read_video reads the video stream, as ffmpeg picks it."
    v = clip(tmp_path / 'v.mp4', *H264)
    clip(tmp_path / 'cover.png', n=1, size=(32, 32))
    ffmpeg('-i', tmp_path / 'cover.png', '-i', v, '-map', '0', '-map', '1', '-c', 'copy', '-disposition:v:0', 'attached_pic',
           tmp_path / 'covered.mp4')
    got = read_video(tmp_path / 'covered.mp4')
    assert got.shape == (N, H, W, 3)
    assert frame_index(got).tolist() == list(range(N))


@pytest.mark.parametrize('name,args', [('h264.mkv', H264), ('fast.mp4', H264 + ['-movflags', '+faststart']),
                                       ('mpeg4.avi', MPEG4), ('vp9.webm', CLIPS['vp9.webm']), ('ffv1.mkv', CLIPS['ffv1.mkv'])])
def test_cut_off_file_gives_ffmpegs_frames(tmp_path, name, args):
    raw = clip(tmp_path / name, *args).read_bytes()
    cut = tmp_path / f'cut_{name}'
    cut.write_bytes(raw[:len(raw) * 9 // 10])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        v = read_video(cut)
    assert 0 < len(v) < N and len(v) == ffmpeg_count(cut)
    assert frame_index(v[:len(v) // 2]).tolist() == list(range(len(v) // 2))


def test_no_decodable_frame_is_an_error(tmp_path):
    raw = clip(tmp_path / 'v.mkv', *H264).read_bytes()
    (tmp_path / 'head.mkv').write_bytes(raw[:len(raw) // 2])           # headers and part of the first frame
    with pytest.raises(ValueError, match='head.mkv: cannot decode'): read_video(tmp_path / 'head.mkv')
    ffmpeg('-f', 'lavfi', '-i', 'sine=r=8000:d=1', tmp_path / 'sound.mp4')   # sound only
    with pytest.raises(ValueError, match='sound.mp4: cannot decode.*no video stream'): read_video(tmp_path / 'sound.mp4')
    (tmp_path / 'text.avi').write_text('not a video')
    with pytest.raises(ValueError, match='text.avi: cannot decode'): read_video(tmp_path / 'text.avi')


class _Frame:
    "Enough of a PyAV frame for _FrameStack."
    def __init__(self, a): self.a, self.height, self.width, self.rotation = a, *a.shape[:2], 0
    def to_ndarray(self, format, height=None, width=None):
        assert format == 'rgb24' and height is None and width is None
        return self.a


@pytest.mark.parametrize('expect', [0, 1, 3, 5, 100])
def test_frame_stack_whatever_the_container_claims(expect):
    frames = index_frames(5)
    s = _FrameStack(expect)
    for f in frames: s.add(_Frame(f))
    assert np.array_equal(s.array(), frames)
    assert _FrameStack(expect).array().shape[0] == 0
