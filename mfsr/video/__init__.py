"""Video: whole clips in, HR frames or a video file out.

- :mod:`mfsr.video.job`: :func:`reconstruct_video`, the frames of a clip one at a time,
  from one of two loops:

  - :mod:`mfsr.video.recurrence`: the default, whole-clip reach by a forward and a
    backward recursion;
  - :mod:`mfsr.video.windows`: sliding windows of K frames (``window=K``).
- :mod:`mfsr.video.tiles`: frames too large for one reconstruction, in overlapping tiles.
- :mod:`mfsr.video.upscale`: :func:`upscale_video`, the job ``mfsr upscale`` runs:
  decode -> enhance -> reconstruct -> HDR -> write, resumable, over

  - :mod:`mfsr.video.frame_loop`: output frames written one by one;
  - :mod:`mfsr.video.stages`: the colour stages per output frame;
  - :mod:`mfsr.video.encode`: the finished frames encoded into one video file;
  - :mod:`mfsr.video.distributed`: chunks of the frame loop as Dask tasks.

The public names of these modules are importable from here
(``from mfsr.video import reconstruct_video, upscale_video``).
"""
from ..registration.flows import compose_flows
from .encode import HDR_TRANSFERS, VideoEncoding, encode_frames
from .frame_loop import FramesFailed, output_path, run_frames
from .job import reconstruct_video
from .stages import ENHANCE_MODES, TemporalEnhancement
from .tiles import DEFAULT_MAX_MEMORY, TILE_OVERLAP, reconstruct_tiled, tile_grid
from .upscale import FRAME_FORMATS, upscale_video
from .windows import DEFAULT_WINDOW, FrameFailure, luma_of, window_indices

__all__ = ["reconstruct_video", "upscale_video", "VideoEncoding", "encode_frames",
           "FrameFailure", "FramesFailed", "TemporalEnhancement", "run_frames",
           "window_indices", "luma_of", "compose_flows", "tile_grid", "reconstruct_tiled",
           "output_path", "DEFAULT_WINDOW", "DEFAULT_MAX_MEMORY", "TILE_OVERLAP",
           "HDR_TRANSFERS", "ENHANCE_MODES", "FRAME_FORMATS"]
