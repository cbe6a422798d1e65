"""Throughput of `mfsr upscale --cluster`: frames/s for 1 and 2 Dask workers, and a model.

Measures, on bigbuckbunny's BDx4 frames (default: 16 frames, chunks of 4, window 5,
``degradation="BD"``, the default method), with every worker and the single-process
reference at one kernel thread each:

- ``c``: seconds per frame of the single-process job (flows, reconstruction, PNG writes);
- ``t_pair``: seconds per pair flow (DIS forward and backward, with confidence);
- ``o``: seconds of scheduler round trip per task (trivial tasks on the warmed cluster);
- the extra pair flows that chunk borders cost (counted from the windows);
- the job's wall time on a LocalCluster of 1 and 2 worker processes (warmed: imports and
  JIT done), from submission to the last frame.

The model: each chunk costs the sum of its frames' costs in the single-process run (times
``c_saturated / c`` once every core is busy), plus its border's extra pair flows and a task
round trip; chunks go in order to the first free worker, and ``T(W)`` is when the last ends,
and for many workers the ceilings of the scheduler (``1 / o_sched`` tasks per second),
the shared storage (``bandwidth / bytes per frame``) and the single final encode.

    python benchmarks/cluster_throughput.py --data ../shared/data --out benchmarks/results/cluster_throughput.json
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

from results_io import run_record, write_json


def _noop(i):
    return i


def _pairs_needed(a, b, n, window):
    before, after = (window - 1) // 2, window - 1 - ((window - 1) // 2)
    lo, hi = max(0, a - before), min(n - 1, b - 1 + after)
    return hi - lo                      # pairs (i, i + 1) for i in lo .. hi - 1


def _warm(source, scratch, window, options):
    """Import mfsr and compile its kernels in this process (workers call it too)."""
    from mfsr.video import run_frames
    scratch = os.path.join(scratch, str(os.getpid()))
    os.makedirs(scratch, exist_ok=True)
    run_frames(source, scratch, 4, window, 0, 1, bits=8, **options)
    return os.getpid()


def _timed_job(source, folder, start, end, window, options):
    """Seconds of the single-process job on frames ``start .. end - 1`` (own process)."""
    import cv2
    cv2.setNumThreads(1)
    import mfsr
    t = time.perf_counter()
    mfsr.upscale_video(source, folder, 4, window, start=start, end=end, **options)
    return time.perf_counter() - t


def _loaded_cost(source, work, n, window, options, processes):
    """Seconds per frame when ``processes`` single-process jobs run at once (each core of
    this machine busy): what a fully used node costs per frame."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=ctx) as pool:
        _warm_all = [pool.submit(_warm, source, os.path.join(work, "warm"), window, options)
                     for _ in range(processes)]
        [f.result() for f in _warm_all]
        jobs = [pool.submit(_timed_job, source, os.path.join(work, f"loaded{p}"), 0, n,
                            window, options) for p in range(processes)]
        return float(np.mean([f.result() for f in jobs])) / n


def makespan(costs, workers):
    """Seconds until the last of the tasks ``costs`` ends, each given in order to the
    first free of ``workers``."""
    free = [0.0] * workers
    for cost in costs:
        i = free.index(min(free))
        free[i] += cost
    return max(free)


def _threads_env():
    return {k: "1" for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                   "shared", "data"))
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=4)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default="benchmarks/results/cluster_throughput.json")
    args = ap.parse_args()
    for k, v in _threads_env().items():          # the reference runs at one thread too
        os.environ[k] = v
    import cv2
    import numba
    cv2.setNumThreads(1)
    numba.set_num_threads(1)
    import mfsr
    import mfsr.video.distributed
    from mfsr.io import FrameSource
    from mfsr.registration import ESTIMATORS, forward_backward_confidence
    from mfsr.video import luma_of

    started = time.time()
    source = os.path.abspath(os.path.join(args.data, "bigbuckbunny", "BDx4"))
    options = dict(degradation="BD")
    n, chunk, window = args.frames, args.chunk, args.window
    work = tempfile.mkdtemp(prefix="mfsr_dist_")
    results = {"frames": n, "chunk": chunk, "window": window, "threads_per_worker": 1,
               "source": source, "runs": {}}
    try:
        _warm(source, os.path.join(work, "warm"), window, options)
        t = time.perf_counter()
        stamps = []
        mfsr.upscale_video(source, os.path.join(work, "single"), 4, window, end=n,
                           progress=lambda i, w: stamps.append(time.perf_counter()),
                           **options)
        single = time.perf_counter() - t
        c = single / n
        # each frame's own cost (frames near the start have shorter windows)
        frame_cost = np.diff([t] + stamps[1:]).tolist()
        with FrameSource(source) as src:
            luma = [luma_of(src.read(k)) for k in range(6)]
        dis = ESTIMATORS["dis"]
        t = time.perf_counter()
        for k in range(5):
            f, b = dis(luma[k], luma[k + 1]), dis(luma[k + 1], luma[k])
            forward_backward_confidence(f, b)
            forward_backward_confidence(b, f)
        t_pair = (time.perf_counter() - t) / 5
        c_loaded = _loaded_cost(source, work, n // 2, window, options,
                                os.cpu_count() or 1)
        ranges = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
        # pairs a continuous run computes for these frames, and what the chunks add
        continuous = _pairs_needed(0, n, len(FrameSource(source)), window)
        chunked = sum(_pairs_needed(a, b, len(FrameSource(source)), window) for a, b in ranges)
        extra_per_chunk = (chunked - continuous) / len(ranges)
        frame_bytes = float(np.mean([os.path.getsize(os.path.join(work, "single", f))
                                     for f in os.listdir(os.path.join(work, "single"))]))
        results.update(single_seconds=single, c=c, frame_cost=frame_cost, c_loaded=c_loaded,
                       t_pair=t_pair,
                       pairs_continuous=continuous, pairs_chunked=chunked,
                       extra_pairs_per_chunk=extra_per_chunk, bytes_per_frame=frame_bytes,
                       chunks=len(ranges))
        for w in args.workers:
            client = mfsr.video.distributed.connect(f"local:{w}", threads=1)
            cluster = client._mfsr_cluster
            try:
                client.run(_warm, source, os.path.join(work, "warm"), window, options)
                t = time.perf_counter()
                for i in range(20):
                    client.submit(_noop, i, pure=False).result()
                o = (time.perf_counter() - t) / 20
                out = os.path.join(work, f"w{w}")
                from distributed import get_task_stream
                t, cpu = time.perf_counter(), time.process_time()
                with get_task_stream(client) as stream:
                    mfsr.upscale_video(source, out, 4, window, end=n, client=client,
                                       chunk=chunk, **options)
                wall, cpu = time.perf_counter() - t, time.process_time() - cpu
                tasks = [sum(ss["stop"] - ss["start"] for ss in task["startstops"]
                             if ss["action"] == "compute")
                         for task in stream.data if str(task["key"]).startswith("mfsr-chunk")]
                same = all(open(os.path.join(out, f), "rb").read() ==
                           open(os.path.join(work, "single", f), "rb").read()
                           for f in os.listdir(os.path.join(work, "single")))
                if w == 1 and (os.cpu_count() or 1) > 1:
                    # the same worker while every other core runs a plain job: a frame's
                    # cost on a saturated node, with Dask's own processes competing
                    import multiprocessing
                    ctx = multiprocessing.get_context("spawn")
                    busy = [ctx.Process(target=_timed_job,
                                        args=(source, os.path.join(work, f"busy{p}"), 0, 30,
                                              window, options))
                            for p in range((os.cpu_count() or 1) - 1)]
                    for proc in busy:
                        proc.start()
                    time.sleep(3)                   # past their imports
                    with get_task_stream(client) as stream2:
                        mfsr.upscale_video(source, os.path.join(work, "saturated"), 4,
                                           window, end=n, client=client, chunk=chunk,
                                           **options)
                    for proc in busy:
                        proc.terminate()
                        proc.join()
                    saturated = sum(ss["stop"] - ss["start"] for task in stream2.data
                                    if str(task["key"]).startswith("mfsr-chunk")
                                    for ss in task["startstops"] if ss["action"] == "compute")
                    results["c_saturated"] = c_saturated = \
                        (saturated - len(ranges) * extra_per_chunk * t_pair) / n
                # a worker's frame costs what it did in the single-process run while the
                # machine has idle cores, times c_saturated / c once every core is busy;
                # chunks go to the first free worker, in order (list scheduling)
                slow = 1.0 if w < (os.cpu_count() or 1) else \
                    results.get("c_saturated", c_loaded) / c
                model = makespan([slow * sum(frame_cost[a:b]) + extra_per_chunk * t_pair + o
                                  for a, b in ranges], w)
                results["runs"][str(w)] = {
                    "wall_seconds": wall, "frames_per_second": n / wall,
                    "task_round_trip_seconds": o, "model_seconds": model,
                    "task_seconds": tasks, "driver_and_scheduler_cpu_seconds": cpu,
                    "model_error": model / wall - 1, "identical_to_single_process": same}
            finally:
                mfsr.video.distributed.close(client)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"single process, 1 thread: {results['c']:.2f} s/frame ({results['c_loaded']:.2f} "
          f"with every core busy with such jobs; a Dask worker's "
          f"{results.get('c_saturated', float('nan')):.2f} with every other core busy); pair flow "
          f"{results['t_pair'] * 1000:.0f} ms; chunk borders add "
          f"{results['extra_pairs_per_chunk']:.2f} pairs per chunk; "
          f"{results['bytes_per_frame'] / 1e6:.2f} MB per output frame")
    for w, r in results["runs"].items():
        print(f"{w} worker(s): {r['wall_seconds']:.1f} s for {n} frames = "
              f"{r['frames_per_second']:.3f} frames/s; model {r['model_seconds']:.1f} s "
              f"({100 * r['model_error']:+.1f} %); task round trip "
              f"{1000 * r['task_round_trip_seconds']:.1f} ms; same frames as single process: "
              f"{r['identical_to_single_process']}; tasks "
              f"{', '.join(f'{x:.1f}' for x in r['task_seconds'])} s; driver+scheduler CPU "
              f"{r['driver_and_scheduler_cpu_seconds']:.1f} s")
    results["predictions"] = predict(results)
    for row in results["predictions"]["rows"]:
        print(f"{row['workers']:>4} workers: {row['frames_per_second']:.1f} frames/s, "
              f"film of {results['predictions']['film_frames']} frames in "
              f"{row['hours']:.2f} h (+{row['encode_hours']:.2f} h encode); limit: {row['limit']}")
    write_json(args.out, run_record(__file__, args, results, started))


def predict(r, film_frames=170_000, chunk=16, storage_bytes_per_s=1e9,
            scheduler_s_per_task=1e-3, encode_s_per_frame=0.068, workers=(8, 64, 512)):
    """Throughput of many saturated workers from the measured costs.

    Assumptions, not measured here: a shared filesystem of ``storage_bytes_per_s``, Dask's
    documented ~1 ms of scheduler time per task, the final encode at the H.264 speed
    measured by ``benchmarks/video_io.py`` (68 ms per 720p frame, one process).
    """
    per_frame = r["c_saturated"] + (r["extra_pairs_per_chunk"] * r["t_pair"] +
                                   r["runs"]["1"]["task_round_trip_seconds"]) / chunk
    rows = []
    for w in workers:
        limits = {"compute": w / per_frame,
                  "scheduler": chunk / scheduler_s_per_task,
                  "storage": storage_bytes_per_s / r["bytes_per_frame"]}
        limit = min(limits, key=limits.get)
        fps = limits[limit]
        hours, encode = film_frames / fps / 3600, film_frames * encode_s_per_frame / 3600
        if encode > hours:
            limit += "; for a video file, the final encode in one process"
        rows.append({"workers": w, "frames_per_second": fps, "limit": limit,
                     "limits_frames_per_second": limits,
                     "hours": hours, "encode_hours": encode})
    return {"film_frames": film_frames, "chunk": chunk, "seconds_per_frame_per_worker":
            per_frame, "storage_bytes_per_s": storage_bytes_per_s,
            "scheduler_s_per_task": scheduler_s_per_task,
            "encode_s_per_frame": encode_s_per_frame, "rows": rows}


if __name__ == "__main__":
    main()
