"""Beyond one machine: the upscaling job as Dask tasks.

A thin layer above :func:`mfsr.upscale_video`: the output frame range is cut into chunks,
and each chunk is one Dask task that calls the single-machine job on its range
(``upscale_video(source, folder, start=a, end=b, resume=True, ...)``). A task reads its
own frames, plus the window's context on both sides, from the input (frame-accurate
seeks in a video file, or files of a folder): no pixels go through the scheduler, so the
input and the output folder must be on storage every worker sees (a shared filesystem).
Each frame is written atomically; a rerun, or Dask's rerun of a task whose worker died,
skips the frames already there, whichever worker wrote them.

Results do not depend on the chunking or the number of workers:

- an output frame is a function of its index alone: its window (or, for the default
  recursion, its segment of :data:`mfsr.video.recurrence.SEGMENT` frames with the warm-up on
  each side) is fixed by the index and the video's length, and its motion is composed
  from flows between neighbouring frames, each computed from those two frames only, so
  a chunk border recomputes the same flows (``window - 1`` pairs per border) rather than
  changing them. Chunks start at multiples of their size, so with the default size (one
  segment) a chunk runs the recursion's passes of one segment and no other task repeats
  them;
- the Numba kernels split their work into partitions that depend on the problem size,
  not on the thread count, and OpenCV's DIS flow gives the same field for any thread
  count; so a worker's thread count changes its speed, not its frames.

Nothing below this module knows Dask; ``import mfsr`` works without it
(``pip install "mfsr[dask]"``).
"""
from __future__ import annotations

import os
import sys
import time

from ..core.validation import check_int
from .frame_loop import run_frames
from .recurrence import SEGMENT

DEFAULT_CHUNK = SEGMENT     # output frames per task: one segment of the recursion


def chunk_ranges(start, stop, size):
    """``[(a, b), ...]`` covering ``start .. stop - 1`` in runs of ``size`` frames that
    start at multiples of ``size`` (the first may be shorter).

    Parameters
    ----------
    start, stop : int
    size : int

    Returns
    -------
    list of tuple

    Examples
    --------
    >>> chunk_ranges(0, 10, 4)
    [(0, 4), (4, 8), (8, 10)]
    >>> chunk_ranges(6, 13, 4)
    [(6, 8), (8, 12), (12, 13)]
    """
    size = check_int(size, "chunk", minimum=1)
    return [(max(a, start), min(a + size, stop))
            for a in range((start // size) * size, stop, size)]


def connect(cluster, threads=None):
    """A ``dask.distributed.Client`` for ``"local:N"`` (a LocalCluster of N worker
    processes, one task at a time each) or a scheduler address (``tcp://host:8786``).

    Parameters
    ----------
    cluster : str
    threads : int, optional
        Kernel threads per local worker (default: this machine's cores / N).

    Returns
    -------
    distributed.Client
        Closing it also closes a LocalCluster it started.

    Raises
    ------
    ImportError
        Dask's distributed scheduler is not installed (``pip install "mfsr[dask]"``).
    ValueError
        ``local:N`` with N not a positive integer.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:   # pragma: no cover - depends on the environment
        raise ImportError('--cluster needs Dask: pip install "mfsr[dask]"') from exc
    if cluster.startswith("local:"):
        try:
            n = int(cluster[len("local:"):])
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"cluster {cluster!r}: local:N needs N >= 1 worker processes")
        import dask
        if threads is None:
            threads = max(1, (os.cpu_count() or 1) // n)
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}),
                       **worker_environment(threads))
        # the workers' sampling profiler (every 10 ms) takes CPU from the kernels; the
        # dashboard's profile page is what is given up
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ,
                              "distributed.worker.profile.enabled": False}):
            local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                 dashboard_address=":0")
        client = Client(local)
        client._mfsr_cluster = local          # closed with the client (see close())
        return client
    return Client(cluster)


def worker_environment(threads):
    """Environment variables for mfsr's worker processes, set before they start.

    - the kernels' thread counts (``NUMBA_NUM_THREADS``, ...) to ``threads``, so that N
      workers on one machine do not oversubscribe its cores (results do not depend on
      them);
    - glibc's malloc thresholds back to its own behaviour: Dask's nanny sets
      ``MALLOC_TRIM_THRESHOLD_=65536`` for its workers, which also freezes the mmap
      threshold, so every large array is a fresh ``mmap`` and its pages fault in again:
      measured, 4 bigbuckbunny frames took 11.5 s instead of 6.2 s. A trim threshold of
      1 GiB with the mmap threshold at glibc's ceiling (32 MiB) gives the 6.2 s back.

    For workers started by hand (``dask worker``, dask-jobqueue, Kubernetes), put these in
    Dask's configuration under ``distributed.nanny.pre-spawn-environ``.

    Parameters
    ----------
    threads : int

    Returns
    -------
    dict of str
    """
    env = {name: str(threads) for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                          "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env.update(MALLOC_TRIM_THRESHOLD_=str(1 << 30), MALLOC_MMAP_THRESHOLD_=str(1 << 25))
    return env


def close(client):
    """Close a client made by :func:`connect` (and its LocalCluster)."""
    cluster = getattr(client, "_mfsr_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def _run_chunk(source, folder, scale, window, start, end, options):
    """One task: the single-machine job on frames ``start .. end - 1``."""
    return run_frames(source, folder, scale, window, start, end, **options)


def write_frames(client, source, folder, scale, window, start, stop, path_of, progress,
                 chunk=None, poll=0.5, video_index=None, **options):
    """Run the job's frames ``start .. stop - 1`` as Dask tasks writing to ``folder``.

    Parameters
    ----------
    client : distributed.Client
    source : str
        Input path, as the workers see it.
    folder : str
        Output frame folder, as the workers see it.
    scale : int
    window : int or None
        As in :func:`mfsr.upscale_video`.
    start, stop : int
    path_of : callable
        ``path_of(index)``: the file of output frame ``index`` in ``folder``. Frames
        already there are skipped (chunks whose frames all exist are not submitted).
    progress : callable or None
        ``progress(None, n_todo)`` first, then ``progress(index, True)`` for each frame
        that appears in ``folder``, whichever worker wrote it.
    chunk : int, optional
        Output frames per task (default :data:`DEFAULT_CHUNK`).
    video_index : PacketIndex, optional
        The input video's packet index, sent once to every worker (each task then skips
        the pass over the whole file that opening it costs).
    poll : float
        Seconds between looks at ``folder`` for progress (one listing of the folder each,
        not a file check per frame: on a shared filesystem that is what costs).
    **options
        Options of :func:`mfsr.upscale_video` for the frames (``bits``, ``fmt``,
        ``enhance``, ``hdr``, ``peak``, reconstruction options).

    Returns
    -------
    dict
        ``{"written": [...], "skipped": [...], "failed": {index: message}}``; a task that
        failed as a whole (its worker kept dying) marks its frames not written as failed.
    """
    chunk = DEFAULT_CHUNK if chunk is None else chunk
    index_of = {os.path.basename(path_of(i)): i for i in range(start, stop)}

    def present():
        return {index_of[name] for name in os.listdir(folder) if name in index_of}

    done = present()
    todo = [i for i in range(start, stop) if i not in done]
    ranges = [(a, b) for a, b in chunk_ranges(start, stop, chunk)
              if any(i not in done for i in range(a, b))]
    if progress is not None:
        progress(None, len(todo))
    if video_index is not None:
        options = dict(options, video_index=client.scatter(video_index, broadcast=True))
    futures = [client.submit(_run_chunk, source, folder, scale, window, a, b, options,
                             key=f"mfsr-chunk-{a}-{b}-{time.time_ns()}", pure=False)
               for a, b in ranges]
    pending, seen = set(todo), set()
    while True:
        finished = all(f.done() for f in futures)
        for i in sorted(pending & present()):
            pending.discard(i)
            seen.add(i)
            if progress is not None:
                progress(i, True)
        if finished:
            break
        time.sleep(poll)
    written, failed = sorted(seen), {}
    for (a, b), future in zip(ranges, futures):
        if future.status == "error":
            exc = future.exception()
            for i in range(a, b):
                if i in pending:
                    failed[i] = (f"frame {i}: task for frames {a}..{b - 1} failed: "
                                 f"{type(exc).__name__}: {exc}")
        else:
            failed.update(future.result()["failed"])
    return {"written": written, "skipped": sorted(done), "failed": dict(sorted(failed.items()))}


def dashboard_message(client):
    """One line with the Dask dashboard's address, for people watching the job."""
    link = getattr(client, "dashboard_link", None)
    return f"Dask dashboard: {link}" if link else "Dask: no dashboard"


def print_dashboard(client, quiet=False):
    """Print :func:`dashboard_message` on stderr unless ``quiet``."""
    if not quiet:
        print(dashboard_message(client), file=sys.stderr)


__all__ = ["connect", "close", "write_frames", "chunk_ranges", "worker_environment",
           "DEFAULT_CHUNK",
           "dashboard_message"]
