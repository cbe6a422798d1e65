// W: bilinear backward warp (gather) and its adjoint (bilinear splat).
// Matches mfsr.kernels.reference.warp_forward / warp_adjoint: `index[p]` is the flat index
// of the top-left neighbour of output pixel p in an (H, W) C-contiguous image, `wy[p]`,
// `wx[p]` its fractional offsets (float32); the neighbours are index, index + 1,
// index + W, index + W + 1 (the caller clamps so that all four exist).
#include "mfsr_common.cuh"

template <typename T>
MFSR_HD T warp_forward_at(const T* x, const mfsr_index* index, const float* wy,
                          const float* wx, mfsr_index width, mfsr_index p) {
    return mfsr_bilerp(x, index[p], width, wy[p], wx[p]);
}

// Splat y[p] onto the four neighbours of out (which the caller zeroes first).
template <typename T>
MFSR_HD void warp_adjoint_at(const T* y, const mfsr_index* index, const float* wy,
                             const float* wx, mfsr_index width, mfsr_index p, T* out) {
    mfsr_splat(out, index[p], width, wy[p], wx[p], y[p]);
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
