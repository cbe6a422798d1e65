// W: bilinear backward warp (gather) and its adjoint (bilinear splat).
// Matches mfsr.kernels.reference.warp_forward / warp_adjoint: `index[p]` is the flat index
// of the top-left neighbour of output pixel p in an (H, W) C-contiguous image, `wy[p]`,
// `wx[p]` its fractional offsets (float32); the neighbours are index, index + 1,
// index + W, index + W + 1 (the caller clamps so that all four exist).
#include "mfsr_common.cuh"

template <typename T>
MFSR_HD T warp_forward_at(const T* x, const mfsr_index* index, const float* wy,
                          const float* wx, mfsr_index width, mfsr_index p) {
    const mfsr_index i = index[p];
    const T a = (T)wx[p], b = (T)wy[p];
    const T top = x[i] + a * (x[i + 1] - x[i]);
    const T bot = x[i + width] + a * (x[i + width + 1] - x[i + width]);
    return top + b * (bot - top);
}

// Splat y[p] onto the four neighbours of out (which the caller zeroes first).
template <typename T>
MFSR_HD void warp_adjoint_at(const T* y, const mfsr_index* index, const float* wy,
                             const float* wx, mfsr_index width, mfsr_index p, T* out) {
    const mfsr_index i = index[p];
    // 1 - w in float32, as the reference computes it from the float32 weights
    const T fy = (T)wy[p], fx = (T)wx[p], gy = (T)(1.0f - wy[p]), gx = (T)(1.0f - wx[p]);
    const T a = y[p] * gy, b = y[p] * fy;
    mfsr_add(out + i, a * gx);
    mfsr_add(out + i + 1, a * fx);
    mfsr_add(out + i + width, b * gx);
    mfsr_add(out + i + width + 1, b * fx);
}

#define MFSR_WARP_KERNELS(T, SUFFIX)                                                     \
    MFSR_KERNEL void warp_forward_##SUFFIX(                                              \
        const T* __restrict__ x, const mfsr_index* __restrict__ index,                   \
        const float* __restrict__ wy, const float* __restrict__ wx, mfsr_index width,    \
        mfsr_index n, T* __restrict__ out) {                                             \
        MFSR_GRID_LOOP(p, n) out[p] = warp_forward_at<T>(x, index, wy, wx, width, p);    \
    }                                                                                    \
    MFSR_KERNEL void warp_adjoint_##SUFFIX(                                              \
        const T* __restrict__ y, const mfsr_index* __restrict__ index,                   \
        const float* __restrict__ wy, const float* __restrict__ wx, mfsr_index width,    \
        mfsr_index n, T* out) {                                                          \
        MFSR_GRID_LOOP(p, n) warp_adjoint_at<T>(y, index, wy, wx, width, p, out);        \
    }

MFSR_WARP_KERNELS(float, f32)
MFSR_WARP_KERNELS(double, f64)
