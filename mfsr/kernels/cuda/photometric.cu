// The photometric check's differences d[k] = frames[k] - reference sampled at p + flow_k(p)
// (bilinear, positions clamped to the image; mfsr.kernels.reference.warp_difference), one
// output pixel per index, all frames in one launch.
#include "mfsr_common.cuh"

template <typename T>
MFSR_HD T warp_difference_at(const T* frames, const T* image, const float* flows,
                             mfsr_index h, mfsr_index w, mfsr_index p) {
    const mfsr_index rem = p % (h * w);
    const mfsr_index i = rem / w, j = rem - (rem / w) * w;
    const float fx = flows[2 * p], fy = flows[2 * p + 1];
    const float cy = mfsr_clip((float)i + fy, 0.0f, (float)(h - 1));
    const float cx = mfsr_clip((float)j + fx, 0.0f, (float)(w - 1));
    const float ytop = (float)(h > 2 ? h - 2 : 0), xtop = (float)(w > 2 ? w - 2 : 0);
    const float y0 = floor(cy) < ytop ? floor(cy) : ytop;
    const float x0 = floor(cx) < xtop ? floor(cx) : xtop;
    const T wy = (T)(cy - y0), wx = (T)(cx - x0);
    const mfsr_index dx = w > 1 ? 1 : 0, dy = h > 1 ? w : 0;
    const mfsr_index at = (mfsr_index)y0 * w + (mfsr_index)x0;
    T top = image[at], right = image[at + dx], low = image[at + dy];
    T corner = image[at + dy + dx];
    top = top + wx * (right - top);
    low = low + wx * (corner - low);
    return frames[p] - (top + wy * (low - top));
}

#define MFSR_PHOTOMETRIC_KERNELS(T, SUFFIX)                                              \
    MFSR_KERNEL void warp_difference_##SUFFIX(                                           \
        const T* __restrict__ frames, const T* __restrict__ image,                       \
        const float* __restrict__ flows, mfsr_index h, mfsr_index w, mfsr_index n,       \
        T* __restrict__ out) {                                                           \
        MFSR_GRID_LOOP(p, n)                                                             \
        out[p] = warp_difference_at<T>(frames, image, flows, h, w, p);                   \
    }

MFSR_PHOTOMETRIC_KERNELS(float, f32)
MFSR_PHOTOMETRIC_KERNELS(double, f64)
