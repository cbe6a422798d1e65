// Pairwise priors R(x) = sum_o w_o sum_p rho(x(p + o) - x(p)) and their gradient, all
// offsets fused in one pass: each thread owns one pixel p, reads its neighbours at +o and
// -o, writes grad R at p (a gather: no atomics) and adds the value of the pairs based at p
// to a per-block sum (one double atomic per block). Matches
// mfsr.kernels.reference.pairwise_prior; `offsets` holds (dy, dx) pairs, `kind` is one of
// the MFSR_* penalty codes of mfsr_common.cuh.
#include "mfsr_common.cuh"

template <typename T>
MFSR_HD T pairwise_prior_at(const T* x, const int* offsets, const T* weights, int n_offsets,
                            int kind, T param, mfsr_index height, mfsr_index width,
                            mfsr_index p, T* value) {
    const mfsr_index r = p / width, c = p - (p / width) * width;
    const T xp = x[p];
    T grad = T(0), val = T(0), slope;
    for (int k = 0; k < n_offsets; ++k) {
        const mfsr_index dy = offsets[2 * k], dx = offsets[2 * k + 1];
        const T wk = weights[k];
        // pair (p + o, p): p is its base, so it carries the value; d/dx(p) = -rho'
        mfsr_index ry = r + dy, cx = c + dx;
        if (ry >= 0 && ry < height && cx >= 0 && cx < width) {
            val += wk * mfsr_rho(x[ry * width + cx] - xp, kind, param, &slope);
            grad -= wk * slope;
        }
        // pair (p, p - o): p is its far end; d/dx(p) = +rho'
        ry = r - dy;
        cx = c - dx;
        if (ry >= 0 && ry < height && cx >= 0 && cx < width) {
            mfsr_rho(xp - x[ry * width + cx], kind, param, &slope);
            grad += wk * slope;
        }
    }
    *value = val;
    return grad;
}

#define MFSR_PRIOR_KERNELS(T, SUFFIX)                                                    \
    MFSR_KERNEL void pairwise_prior_##SUFFIX(                                            \
        const T* __restrict__ x, const int* __restrict__ offsets,                        \
        const T* __restrict__ weights, int n_offsets, int kind, T param,                 \
        mfsr_index height, mfsr_index width, T* __restrict__ grad, double* total) {      \
        double partial = 0.0;                                                            \
        T v;                                                                             \
        MFSR_GRID_LOOP(p, height * width) {                                              \
            grad[p] = pairwise_prior_at<T>(x, offsets, weights, n_offsets, kind, param,  \
                                           height, width, p, &v);                        \
            partial += (double)v;                                                        \
        }                                                                                \
        mfsr_block_sum_to(partial, total);                                               \
    }

MFSR_PRIOR_KERNELS(float, f32)
MFSR_PRIOR_KERNELS(double, f64)
