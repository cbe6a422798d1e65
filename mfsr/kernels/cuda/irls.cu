// IRLS (mfsr.solvers.irls): the weighted smoothness operator and the fused CG updates.
//
// The smoothness term is 1/2 sum_o w_o sum_p a_o(p) (D_o v)(p)^2 with (D_o v)(p) =
// v(p + o) - v(p) over the four offsets o of mfsr.kernels.reference.SMOOTHNESS_OFFSETS
// (weights SMOOTHNESS_WEIGHTS) and per-pair weights a_o(p) stored at the pair's base p in
// one (4, H, W) array (zero, and never read, where p + o leaves the image). Its gradient
// g = sum_o w_o D_o^T (a_o D_o v) is written as a gather: each thread owns one pixel q and
// takes the terms of the two pairs of each offset it belongs to, (q - o, q) and (q, q + o),
// in the order of mfsr.kernels.reference.weighted_smoothness; no atomics, deterministic.
#include "mfsr_common.cuh"

// SMOOTHNESS_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1)); weights 1, 1, 1/sqrt(2), 1/sqrt(2)
// (the literal is Python's 1 / math.sqrt(2), so the double kernels use the same number).
#define MFSR_SMOOTH_OFFSETS 4

MFSR_HD int mfsr_smooth_dy(int o) { return o == 0 ? 0 : 1; }
MFSR_HD int mfsr_smooth_dx(int o) { return o == 1 ? 0 : (o == 3 ? -1 : 1); }

template <typename T>
MFSR_HD T mfsr_smooth_w(int o) {
    return o < 2 ? T(1) : T(0.7071067811865475);
}

// g(q) = sum_o [ w_o a_o(q - o) (v(q) - v(q - o)) - w_o a_o(q) (v(q + o) - v(q)) ],
// each term rounded as (a * d) * w, added in offset order (far end first).
template <typename T>
MFSR_HD T weighted_smoothness_at(const T* v, const T* alphas, mfsr_index height,
                                 mfsr_index width, mfsr_index q) {
    const mfsr_index r = q / width, c = q - (q / width) * width, n = height * width;
    const T vq = v[q];
    T g = T(0);
    for (int o = 0; o < MFSR_SMOOTH_OFFSETS; ++o) {
        const mfsr_index dy = mfsr_smooth_dy(o), dx = mfsr_smooth_dx(o);
        const T w = mfsr_smooth_w<T>(o);
        const T* a = alphas + o * n;
        mfsr_index ry = r - dy, cx = c - dx;  // pair (q - o, q): q is its far end
        if (ry >= 0 && ry < height && cx >= 0 && cx < width) {
            const mfsr_index b = ry * width + cx;
            g += (a[b] * (vq - v[b])) * w;
        }
        ry = r + dy;
        cx = c + dx;  // pair (q, q + o): q is its base
        if (ry >= 0 && ry < height && cx >= 0 && cx < width) {
            g -= (a[q] * (v[ry * width + cx] - vq)) * w;
        }
    }
    return g;
}

// 1/2 sum_o w_o a_o(p) (D_o v)(p)^2 over the pairs based at p, in double.
template <typename T>
MFSR_HD double weighted_smoothness_value_at(const T* v, const T* alphas, mfsr_index height,
                                            mfsr_index width, mfsr_index p) {
    const mfsr_index r = p / width, c = p - (p / width) * width, n = height * width;
    double total = 0.0;
    for (int o = 0; o < MFSR_SMOOTH_OFFSETS; ++o) {
        const mfsr_index ry = r + mfsr_smooth_dy(o), cx = c + mfsr_smooth_dx(o);
        if (ry >= 0 && ry < height && cx >= 0 && cx < width) {
            const double d = (double)(v[ry * width + cx] - v[p]);
            total += mfsr_smooth_w<double>(o) * ((double)alphas[o * n + p] * (d * d));
        }
    }
    return 0.5 * total;
}

#define MFSR_IRLS_KERNELS(T, SUFFIX)                                                     \
    /* out = (has_base ? base : 0) + S v, S the weighted smoothness operator */          \
    MFSR_KERNEL void weighted_smoothness_##SUFFIX(                                       \
        const T* __restrict__ v, const T* __restrict__ alphas, const T* base,            \
        int has_base, mfsr_index height, mfsr_index width, T* out) {                     \
        MFSR_GRID_LOOP(q, height * width) {                                              \
            const T g = weighted_smoothness_at<T>(v, alphas, height, width, q);          \
            out[q] = has_base ? base[q] + g : g;                                         \
        }                                                                                \
    }                                                                                    \
    /* per-pixel values of the term (summed by the caller) */                           \
    MFSR_KERNEL void weighted_smoothness_value_##SUFFIX(                                 \
        const T* __restrict__ v, const T* __restrict__ alphas, mfsr_index height,        \
        mfsr_index width, double* __restrict__ out) {                                    \
        MFSR_GRID_LOOP(p, height * width)                                                \
        out[p] = weighted_smoothness_value_at<T>(v, alphas, height, width, p);           \
    }                                                                                    \
    /* out[o, p] = |x(p + o) - x(p)|, `inf` where p + o leaves the image */            \
    MFSR_KERNEL void smoothness_differences_##SUFFIX(                                    \
        const T* __restrict__ x, T inf, mfsr_index height, mfsr_index width,             \
        T* __restrict__ out) {                                                           \
        const mfsr_index n = height * width;                                             \
        MFSR_GRID_LOOP(i, MFSR_SMOOTH_OFFSETS * n) {                                     \
            const int o = (int)(i / n);                                                  \
            const mfsr_index p = i - (mfsr_index)o * n;                                  \
            const mfsr_index r = p / width, c = p - (p / width) * width;                 \
            const mfsr_index ry = r + mfsr_smooth_dy(o), cx = c + mfsr_smooth_dx(o);     \
            out[i] = (ry >= 0 && ry < height && cx >= 0 && cx < width)                   \
                         ? fabs(x[ry * width + cx] - x[p])                               \
                         : inf;                                                          \
        }                                                                                \
    }                                                                                    \
    /* CG step: alpha = gg / max(pq, 1e-30) in double (0 when gg == 0), rounded to T; */ \
    /* x += alpha p, g -= alpha q. gg and pq are one-element device arrays. */          \
    MFSR_KERNEL void cg_update_##SUFFIX(const T* gg, const T* pq, mfsr_index n,          \
                                        T* __restrict__ x, const T* __restrict__ p,      \
                                        T* __restrict__ g, const T* __restrict__ q) {    \
        const double num = (double)gg[0], den = (double)pq[0];                           \
        const T a = num != 0.0 ? (T)(num / (1e-30 > den ? 1e-30 : den)) : T(0);          \
        MFSR_GRID_LOOP(i, n) {                                                           \
            x[i] = x[i] + a * p[i];                                                      \
            g[i] = g[i] - a * q[i];                                                      \
        }                                                                                \
    }                                                                                    \
    /* CG direction: p = g + (gg_new / gg) p, the ratio in double (0 when gg == 0). */  \
    MFSR_KERNEL void cg_direction_##SUFFIX(const T* gg_new, const T* gg, mfsr_index n,   \
                                           const T* __restrict__ g, T* __restrict__ p) { \
        const double num = (double)gg_new[0], den = (double)gg[0];                       \
        const T b = den != 0.0 ? (T)(num / den) : T(0);                                  \
        MFSR_GRID_LOOP(i, n) p[i] = g[i] + b * p[i];                                     \
    }

MFSR_IRLS_KERNELS(float, f32)
MFSR_IRLS_KERNELS(double, f64)
