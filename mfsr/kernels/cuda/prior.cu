// Priors: value and gradient in one pass, the value summed per block (one double atomic
// per block).
//
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

// The gradient alone, scaled and added to a base (pairwise_prior_gradient):
// out = base + scale * grad (scale * grad rounded first; `base` may be `out`).
#define MFSR_PRIOR_GRADIENT_KERNELS(T, SUFFIX)                                           \
    MFSR_KERNEL void pairwise_prior_gradient_##SUFFIX(                                   \
        const T* __restrict__ x, const int* __restrict__ offsets,                        \
        const T* __restrict__ weights, int n_offsets, int kind, T param,                 \
        mfsr_index height, mfsr_index width, const T* base, int has_base, T scale,       \
        int scaled, T* out) {                                                            \
        T v;                                                                             \
        MFSR_GRID_LOOP(p, height * width) {                                              \
            T g = pairwise_prior_at<T>(x, offsets, weights, n_offsets, kind, param,      \
                                       height, width, p, &v);                            \
            if (scaled) g = scale * g;                                                   \
            out[p] = has_base ? base[p] + g : g;                                         \
        }                                                                                \
    }

// Isotropic TV with forward differences (zero past the last row / column),
// mfsr.kernels.reference.tv_prior: the magnitude at pixel (r, c).
template <typename T>
MFSR_HD T tv_magnitude(const T* x, mfsr_index height, mfsr_index width, mfsr_index r,
                       mfsr_index c, T eps2, T* gx, T* gy) {
    const T v = x[r * width + c];
    *gx = c < width - 1 ? x[r * width + c + 1] - v : T(0);
    *gy = r < height - 1 ? x[(r + 1) * width + c] - v : T(0);
    return sqrt(*gx * *gx + *gy * *gy + eps2);
}

// Gradient at p = -(px + py)(p) + px(p - e_x) + py(p - e_y), p = (gx, gy) / magnitude;
// *value gets the magnitude minus eps.
template <typename T>
MFSR_HD T tv_prior_at(const T* x, T eps, mfsr_index height, mfsr_index width, mfsr_index p,
                      T* value) {
    const mfsr_index r = p / width, c = p - (p / width) * width;
    const T eps2 = eps * eps;
    T gx, gy;
    const T mag = tv_magnitude(x, height, width, r, c, eps2, &gx, &gy);
    *value = mag - eps;
    T grad = -(gx / mag + gy / mag);
    T nx, ny;
    if (c > 0) {  // px of the left neighbour
        const T m = tv_magnitude(x, height, width, r, c - 1, eps2, &nx, &ny);
        grad += nx / m;
    }
    if (r > 0) {  // py of the upper neighbour
        const T m = tv_magnitude(x, height, width, r - 1, c, eps2, &nx, &ny);
        grad += ny / m;
    }
    return grad;
}

#define MFSR_TV_KERNELS(T, SUFFIX)                                                       \
    MFSR_KERNEL void tv_prior_##SUFFIX(const T* __restrict__ x, T eps, mfsr_index height, \
                                       mfsr_index width, T* __restrict__ grad,           \
                                       double* total) {                                  \
        double partial = 0.0;                                                            \
        T v;                                                                             \
        MFSR_GRID_LOOP(p, height * width) {                                              \
            grad[p] = tv_prior_at<T>(x, eps, height, width, p, &v);                      \
            partial += (double)v;                                                        \
        }                                                                                \
        mfsr_block_sum_to(partial, total);                                               \
    }

MFSR_PRIOR_KERNELS(float, f32)
MFSR_PRIOR_KERNELS(double, f64)
MFSR_PRIOR_GRADIENT_KERNELS(float, f32)
MFSR_PRIOR_GRADIENT_KERNELS(double, f64)
MFSR_TV_KERNELS(float, f32)
MFSR_TV_KERNELS(double, f64)
