// Robust data term of the residual r = ax - y with per-pixel weights c, in one pass
// (mfsr.kernels.reference.data_fidelity): writes r and g = gain * c * rho'(r), and adds
// sum c * rho(r) to *total per block (the caller multiplies by gain).
#include "mfsr_common.cuh"

template <typename T>
MFSR_HD T data_fidelity_at(const T* ax, const T* y, const T* c, int kind, T param, T gain,
                           mfsr_index p, T* r, T* g) {
    const T res = ax[p] - y[p];
    T slope;
    const T v = mfsr_rho(res, kind, param, &slope);
    r[p] = res;
    g[p] = (gain * c[p]) * slope;
    return c[p] * v;
}

#define MFSR_DATA_KERNELS(T, SUFFIX)                                                     \
    MFSR_KERNEL void data_fidelity_##SUFFIX(                                             \
        const T* __restrict__ ax, const T* __restrict__ y, const T* __restrict__ c,      \
        int kind, T param, T gain, mfsr_index n, T* __restrict__ r, T* __restrict__ g,   \
        double* total) {                                                                 \
        double partial = 0.0;                                                            \
        MFSR_GRID_LOOP(p, n)                                                             \
        partial += (double)data_fidelity_at<T>(ax, y, c, kind, param, gain, p, r, g);    \
        mfsr_block_sum_to(partial, total);                                               \
    }

MFSR_DATA_KERNELS(float, f32)
MFSR_DATA_KERNELS(double, f64)
