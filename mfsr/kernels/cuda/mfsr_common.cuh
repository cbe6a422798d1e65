// Shared helpers of the mfsr CUDA kernels.
//
// Every kernel body is a function of one output index; the kernels (MFSR_KERNEL) only map
// threads to indices with MFSR_GRID_LOOP. Compiled by nvcc / NVRTC they are CUDA kernels
// (grid-stride loops). Compiled by a C++ compiler with MFSR_HOST_EMULATION defined they
// become host functions with the same names and parameters that loop over all indices:
// tests/test_cuda_compile.py runs mfsr/kernels/cupy_kernels on those, so the index
// arithmetic and the argument lists are checked against the NumPy reference on machines
// without a GPU. What only a GPU run checks: the thread mapping, atomics and the block
// reduction (tests/test_gpu.py).
#ifndef MFSR_COMMON_CUH
#define MFSR_COMMON_CUH

typedef long long mfsr_index;

#if defined(MFSR_HOST_EMULATION)
// Host build (g++): kernels become plain C functions looping over all indices.
#include <cmath>
using std::fabs;
using std::floor;
using std::sqrt;
#define MFSR_HD inline
#define MFSR_KERNEL extern "C"
#define MFSR_GRID_LOOP(i, n) for (mfsr_index i = 0; i < (n); ++i)
inline void mfsr_block_sum_to(double value, double* total) { *total += value; }
#else
#define MFSR_HD __host__ __device__ __forceinline__
#define MFSR_KERNEL extern "C" __global__
// Grid-stride loop over [0, n): each thread takes indices tid, tid + stride, ...
#define MFSR_GRID_LOOP(i, n)                                                         \
    for (mfsr_index i = (mfsr_index)blockIdx.x * blockDim.x + threadIdx.x; i < (n);  \
         i += (mfsr_index)blockDim.x * gridDim.x)
#endif

// float32 product and sum, each rounded on its own: never fused into a multiply-add.
// nvcc and NVRTC contract a * b + c into one FMA by default (--fmad=true), which rounds
// once instead of twice; in mfsr_warp_table that moved the float32 warp positions by an
// ulp against mfsr.kernels.geometry (NumPy rounds every operation), so the weights, which
// the reference defines in float32, differed by up to ulp(H) and the float64 operator by
// 2.7e-7 (H200). __fmul_rn / __fadd_rn are documented never to be merged into an FMA.
// On the host they are plain operations in functions that are not inlined, so that a
// host build with FMA contraction on (tests/cuda_host.py, fp_contract=True, standing in
// for the device's code generation) cannot fuse them either.
#if defined(__CUDA_ARCH__)
__device__ __forceinline__ float mfsr_mul32(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float mfsr_add32(float a, float b) { return __fadd_rn(a, b); }
#else
__attribute__((noinline)) inline float mfsr_mul32(float a, float b) { return a * b; }
__attribute__((noinline)) inline float mfsr_add32(float a, float b) { return a + b; }
#endif

// Add on the device (atomic: several threads may write one address) or on the host.
template <typename T>
MFSR_HD void mfsr_add(T* address, T value) {
#if defined(__CUDA_ARCH__)
    atomicAdd(address, value);
#else
    *address += value;
#endif
}

template <typename T>
MFSR_HD T mfsr_clip(T v, T lo, T hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// Penalty codes shared with cupy_kernels.PENALTIES (mfsr.kernels.reference.rho).
#define MFSR_QUADRATIC 0
#define MFSR_CHARBONNIER 1
#define MFSR_HUBER 2

// rho(d) and rho'(d) of mfsr.kernels.reference.rho.
template <typename T>
MFSR_HD T mfsr_rho(T d, int kind, T param, T* slope) {
    if (kind == MFSR_CHARBONNIER) {
        T root = sqrt(d * d + param * param);
        *slope = d / root;
        return root - param;
    }
    if (kind == MFSR_HUBER) {
        T a = fabs(d);
        *slope = mfsr_clip(d / param, T(-1), T(1));
        return a <= param ? d * d / (T(2) * param) : a - param / T(2);
    }
    *slope = d;
    return T(0.5) * d * d;
}

// Bilinear sample of x (row length `width`) at the top-left neighbour i with fractional
// offsets (fy, fx), in the order of mfsr.kernels.reference.warp_forward.
template <typename T>
MFSR_HD T mfsr_bilerp(const T* x, mfsr_index i, mfsr_index width, float fy, float fx) {
    const T a = (T)fx, b = (T)fy;
    const T top = x[i] + a * (x[i + 1] - x[i]);
    const T bot = x[i + width] + a * (x[i + width + 1] - x[i + width]);
    return top + b * (bot - top);
}

// Splat v onto the four neighbours of i, the adjoint of mfsr_bilerp (1 - w in float32,
// as mfsr.kernels.reference.warp_adjoint computes it from the float32 weights).
template <typename T>
MFSR_HD void mfsr_splat(T* out, mfsr_index i, mfsr_index width, float fy, float fx, T v) {
    const T a = v * (T)(1.0f - fy), b = v * (T)fy;
    mfsr_add(out + i, a * (T)(1.0f - fx));
    mfsr_add(out + i + 1, a * (T)fx);
    mfsr_add(out + i + width, b * (T)(1.0f - fx));
    mfsr_add(out + i + width + 1, b * (T)fx);
}

// The bilinear table of HR pixel (P, Q) of the warp by an LR flow, computed on the fly as
// mfsr.kernels.geometry.upsample_flow and bilinear_tables do (float32, same order, every
// product and sum rounded on its own as NumPy does: mfsr_mul32 / mfsr_add32, no FMA, so
// the table is bitwise the reference's and the float64 kernels match it to float64
// rounding; the weights stay float32 in both instantiations, as the reference defines
// the warp):
// flow_k is one LR flow (h_lr, w_lr, 2) as (dx, dy); (r0, r1, ar) and (c0, c1, ac) are
// geometry.flow_axis_weights of the rows and columns; the HR image is (H, W).
MFSR_HD void mfsr_warp_table(const float* flow_k, mfsr_index w_lr, const mfsr_index* r0,
                             const mfsr_index* r1, const float* ar, const mfsr_index* c0,
                             const mfsr_index* c1, const float* ac, float scale,
                             mfsr_index H, mfsr_index W, mfsr_index P, mfsr_index Q,
                             mfsr_index* index, float* wy, float* wx) {
    const float a = ar[P], b = ac[Q], oa = 1.0f - a, ob = 1.0f - b;
    const float* f00 = flow_k + 2 * (r0[P] * w_lr + c0[Q]);
    const float* f10 = flow_k + 2 * (r1[P] * w_lr + c0[Q]);
    const float* f01 = flow_k + 2 * (r0[P] * w_lr + c1[Q]);
    const float* f11 = flow_k + 2 * (r1[P] * w_lr + c1[Q]);
    float hr[2];
    for (int d = 0; d < 2; ++d) {
        // rows[:, c0] and rows[:, c1]
        const float left = mfsr_add32(mfsr_mul32(f00[d], oa), mfsr_mul32(f10[d], a));
        const float right = mfsr_add32(mfsr_mul32(f01[d], oa), mfsr_mul32(f11[d], a));
        hr[d] = mfsr_mul32(mfsr_add32(mfsr_mul32(left, ob), mfsr_mul32(right, b)), scale);
    }
    const float cy = mfsr_clip(mfsr_add32((float)P, hr[1]), 0.0f, (float)(H - 1));
    const float cx = mfsr_clip(mfsr_add32((float)Q, hr[0]), 0.0f, (float)(W - 1));
    float i0 = floor(cy), j0 = floor(cx);
    i0 = i0 < (float)(H - 2) ? i0 : (float)(H - 2);
    j0 = j0 < (float)(W - 2) ? j0 : (float)(W - 2);
    *wy = cy - i0;
    *wx = cx - j0;
    *index = (mfsr_index)i0 * W + (mfsr_index)j0;
}

// Sort keys of non-negative floats (mfsr.kernels.reference.irls_residuals): the bits as
// a signed integer of the same width, in which non-negative floats keep their order;
// MFSR_KEY_FLAG (the sign bit) marks a key, MFSR_KEY_BITS clears the mark.
MFSR_HD int mfsr_key_bits(float v) {
#if defined(__CUDA_ARCH__)
    return __float_as_int(v);
#else
    int b;
    __builtin_memcpy(&b, &v, sizeof b);
    return b;
#endif
}
MFSR_HD mfsr_index mfsr_key_bits(double v) {
#if defined(__CUDA_ARCH__)
    return __double_as_longlong(v);
#else
    mfsr_index b;
    __builtin_memcpy(&b, &v, sizeof b);
    return b;
#endif
}
MFSR_HD float mfsr_key_value(int b, float) {
#if defined(__CUDA_ARCH__)
    return __int_as_float(b & 0x7fffffff);
#else
    b &= 0x7fffffff;
    float v;
    __builtin_memcpy(&v, &b, sizeof v);
    return v;
#endif
}
MFSR_HD double mfsr_key_value(mfsr_index b, double) {
#if defined(__CUDA_ARCH__)
    return __longlong_as_double(b & 0x7fffffffffffffffLL);
#else
    b &= 0x7fffffffffffffffLL;
    double v;
    __builtin_memcpy(&v, &b, sizeof v);
    return v;
#endif
}
MFSR_HD int mfsr_key_flag(int) { return -2147483647 - 1; }
MFSR_HD mfsr_index mfsr_key_flag(mfsr_index) { return -9223372036854775807LL - 1; }

#if defined(MFSR_HOST_EMULATION)
// Deterministic two-pass sums: a kernel leaves one partial sum per block in
// partials[blockIdx.x] (zeroed by the caller), and a one-block kernel adds them up in a
// fixed order. On the host the whole loop is one block.
inline void mfsr_block_store(double value, double* partials) { partials[0] += value; }
#define MFSR_ONE_BLOCK_LOOP(i, n) for (mfsr_index i = 0; i < (n); ++i)
inline double mfsr_one_block_sum(double value) { return value; }
#define MFSR_ONE_BLOCK_LEADER true
#endif

#if !defined(MFSR_HOST_EMULATION)
// The sum of `value` over the thread block, valid in thread 0 (every thread of the
// block must call it; blockDim.x a multiple of 32, <= 1024). The order of the additions
// depends on the block size alone: deterministic.
__device__ __forceinline__ double mfsr_block_sum(double value) {
    __shared__ double sums[32];
    __syncthreads();  // the readers of a previous call are done with `sums`
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    for (int off = 16; off > 0; off >>= 1) value += __shfl_down_sync(0xffffffffu, value, off);
    if (lane == 0) sums[warp] = value;
    __syncthreads();
    if (warp == 0) {
        const unsigned n_warps = (blockDim.x + 31u) >> 5;
        value = lane < n_warps ? sums[lane] : 0.0;
        for (int off = 16; off > 0; off >>= 1)
            value += __shfl_down_sync(0xffffffffu, value, off);
    }
    return value;
}

// Deterministic two-pass sums (see the host version above): block b's sum to partials[b].
__device__ __forceinline__ void mfsr_block_store(double value, double* partials) {
    value = mfsr_block_sum(value);
    if (threadIdx.x == 0) partials[blockIdx.x] = value;
}
// In a kernel launched as one block: the thread's share of [0, n), then the block's sum.
#define MFSR_ONE_BLOCK_LOOP(i, n) for (mfsr_index i = threadIdx.x; i < (n); i += blockDim.x)
__device__ __forceinline__ double mfsr_one_block_sum(double value) {
    return mfsr_block_sum(value);
}
#define MFSR_ONE_BLOCK_LEADER (threadIdx.x == 0)

// Sum `value` over the thread block and add the block's sum to *total (one atomic per
// block). Every thread of the block must call it; blockDim.x a multiple of 32, <= 1024.
__device__ __forceinline__ void mfsr_block_sum_to(double value, double* total) {
    __shared__ double warp_sums[32];
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    for (int off = 16; off > 0; off >>= 1) value += __shfl_down_sync(0xffffffffu, value, off);
    if (lane == 0) warp_sums[warp] = value;
    __syncthreads();
    if (warp == 0) {
        const unsigned n_warps = (blockDim.x + 31u) >> 5;
        value = lane < n_warps ? warp_sums[lane] : 0.0;
        for (int off = 16; off > 0; off >>= 1)
            value += __shfl_down_sync(0xffffffffu, value, off);
        if (lane == 0) atomicAdd(total, value);
    }
}
#endif

#endif  // MFSR_COMMON_CUH
