// Shared helpers of the mfsr CUDA kernels.
//
// Every kernel body is a function of one output index; the kernels (MFSR_KERNEL) only map
// threads to indices with MFSR_GRID_LOOP. Compiled by nvcc / NVRTC they are CUDA kernels
// (grid-stride loops). Compiled by a C++ compiler with MFSR_HOST_EMULATION defined they
// become host functions with the same names and parameters that loop over all indices:
// tests/test_cuda_compile.py runs mfsr/kernels/cupy_kernels.py on those, so the index
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

#if !defined(MFSR_HOST_EMULATION)
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
