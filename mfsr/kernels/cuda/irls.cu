// IRLS (mfsr.solvers.irls): the weighted smoothness operator and the fused CG updates.
//
// The smoothness term is 1/2 sum_o w_o sum_p a_o(p) (D_o v)(p)^2 with (D_o v)(p) =
// v(p + o) - v(p) over the four offsets o of mfsr.kernels.reference.SMOOTHNESS_OFFSETS
// (weights SMOOTHNESS_WEIGHTS) and per-pair weights a_o(p) stored at the pair's base p in
// one (4, H, W) array (zero, and never read, where p + o leaves the image). Its gradient
// g = sum_o w_o D_o^T (a_o D_o v) is written as a gather: each thread owns one pixel q and
// takes the terms of the two pairs of each offset it belongs to, (q - o, q) and (q, q + o),
// in the order of mfsr.kernels.reference.weighted_smoothness; no atomics, deterministic.
//
// The IRLS re-weighting (irls_residuals, irls_key_median, irls_sorted_median,
// irls_data_weights, irls_prior_weights,
// irls_objective_*) and the CG step with its inner products (dot_partials, sum_partials,
// cg_update_dot) sum in double, per block and then in one block, in a fixed order: no
// atomics, the same bits on every run.
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

// The robust scale of the IRLS weights: threshold * max(1.4826 * median, 1e-4) in double,
// rounded to T (mfsr.kernels.common.irls_threshold).
template <typename T>
MFSR_HD T irls_threshold_of(T median, double threshold) {
    double scale = (double)median * 1.4826;
    scale = scale > 1e-4 ? scale : 1e-4;
    return (T)(threshold * scale);
}

// The median of the sorted keys of irls_residuals (n of them), as the reference's
// _key_median: over the flagged (negative) keys, found by bisection, or over all of them
// when there is none; the mean of the two middle values, in T.
template <typename T, typename K>
MFSR_HD T irls_key_median(const K* sorted, mfsr_index n) {
    mfsr_index lo = 0, hi = n;
    while (lo < hi) {
        const mfsr_index mid = lo + (hi - lo) / 2;
        if (sorted[mid] < 0) lo = mid + 1; else hi = mid;
    }
    const mfsr_index m = lo > 0 ? lo : n;
    const T a = mfsr_key_value(sorted[(m - 1) / 2], T(0));
    const T b = mfsr_key_value(sorted[m / 2], T(0));
    return (a + b) * T(0.5);
}

// min(1, t / max(d, 1e-12)) in T, as the reference's xp.minimum / xp.maximum.
template <typename T>
MFSR_HD T irls_huber_weight(T t, T d) {
    const T den = d > T(1e-12) ? d : T(1e-12);
    const T ratio = t / den;
    return ratio < T(1) ? ratio : T(1);
}

#define MFSR_IRLS_KERNELS(T, SUFFIX, KEY)                                                \
    /* r = ax - y; key = bits of |r|, flagged where c > 0.5 (irls_residuals) */        \
    MFSR_KERNEL void irls_residuals_##SUFFIX(                                            \
        const T* __restrict__ ax, const T* __restrict__ y, const T* __restrict__ c,      \
        mfsr_index n, T* __restrict__ r, KEY* __restrict__ keys) {                       \
        MFSR_GRID_LOOP(i, n) {                                                           \
            const T v = ax[i] - y[i];                                                    \
            r[i] = v;                                                                    \
            const KEY b = mfsr_key_bits(fabs(v));                                        \
            keys[i] = c[i] > T(0.5) ? (KEY)(b | mfsr_key_flag(b)) : b;                   \
        }                                                                                \
    }                                                                                    \
    /* median[0] = the median of the n sorted keys (one thread: irls_key_median) */     \
    MFSR_KERNEL void irls_key_median_##SUFFIX(                                           \
        const KEY* __restrict__ sorted, mfsr_index n, T* __restrict__ median) {          \
        MFSR_GRID_LOOP(i, 1) median[0] = irls_key_median<T, KEY>(sorted, n);             \
    }                                                                                    \
    /* median[0] = the median of the n_valid first sorted values, 0 for none (one */   \
    /* thread: irls_difference_median) */                                              \
    MFSR_KERNEL void irls_sorted_median_##SUFFIX(                                        \
        const T* __restrict__ sorted, mfsr_index n_valid, T* __restrict__ median) {      \
        MFSR_GRID_LOOP(i, 1) median[0] = n_valid > 0                                     \
            ? (sorted[(n_valid - 1) / 2] + sorted[n_valid / 2]) * T(0.5) : T(0);         \
    }                                                                                    \
    /* beta = c min(1, t_r / max(|r|, 1e-12)), t_r from the residuals' median */        \
    MFSR_KERNEL void irls_data_weights_##SUFFIX(                                         \
        const T* __restrict__ median, const T* __restrict__ r,                           \
        const T* __restrict__ c, double threshold, mfsr_index n, T* __restrict__ out) {  \
        const T t = irls_threshold_of<T>(median[0], threshold);                          \
        MFSR_GRID_LOOP(i, n) out[i] = c[i] * irls_huber_weight<T>(t, fabs(r[i]));        \
    }                                                                                    \
    /* alphas = weight min(1, t_p / max(d, 1e-12)), t_p from the differences' median; */\
    /* out may be d (each element read, then written, by one thread) */                \
    MFSR_KERNEL void irls_prior_weights_##SUFFIX(                                        \
        const T* __restrict__ median, const T* d,                                        \
        double threshold, T weight, int scaled, mfsr_index n, T* out) {                  \
        const T t = irls_threshold_of<T>(median[0], threshold);                          \
        MFSR_GRID_LOOP(i, n) {                                                           \
            const T a = irls_huber_weight<T>(t, d[i]);                                   \
            out[i] = scaled ? a * weight : a;                                            \
        }                                                                                \
    }                                                                                    \
    /* block sums of sum beta r^2, sum c r^2 (r = ax - y, n_lr values) and of the */    \
    /* smoothness value of (v, alphas) when has_alphas: partials[0, nb, 2 nb + b] */     \
    MFSR_KERNEL void irls_objective_partials_##SUFFIX(                                   \
        const T* __restrict__ ax, const T* __restrict__ y, const T* __restrict__ beta,   \
        const T* __restrict__ c, mfsr_index n_lr, const T* __restrict__ v,               \
        const T* __restrict__ alphas, int has_alphas, mfsr_index height,                 \
        mfsr_index width, mfsr_index nb, double* __restrict__ partials) {                \
        double data = 0.0, res = 0.0, smooth = 0.0;                                      \
        MFSR_GRID_LOOP(i, n_lr) {                                                        \
            const T e = ax[i] - y[i];                                                    \
            data += (double)(beta[i] * e * e);                                           \
            res += (double)(c[i] * e * e);                                               \
        }                                                                                \
        if (has_alphas) {                                                                \
            MFSR_GRID_LOOP(p, height * width)                                            \
            smooth += weighted_smoothness_value_at<T>(v, alphas, height, width, p);      \
        }                                                                                \
        mfsr_block_store(data, partials);                                                \
        mfsr_block_store(res, partials + nb);                                            \
        mfsr_block_store(smooth, partials + 2 * nb);                                     \
    }                                                                                    \
    /* one block: out = [0.5 data + smooth, sqrt(res)] from the partials above */      \
    MFSR_KERNEL void irls_objective_sum_##SUFFIX(const double* __restrict__ partials,    \
                                                 mfsr_index nb, double* __restrict__ out) { \
        double sums[3];                                                                  \
        for (int k = 0; k < 3; ++k) {                                                    \
            double s = 0.0;                                                              \
            MFSR_ONE_BLOCK_LOOP(b, nb) s += partials[k * nb + b];                        \
            sums[k] = mfsr_one_block_sum(s);                                             \
        }                                                                                \
        if (MFSR_ONE_BLOCK_LEADER) {                                                     \
            out[0] = 0.5 * sums[0] + sums[2];                                            \
            out[1] = sqrt(sums[1]);                                                      \
        }                                                                                \
    }                                                                                    \
    /* block sums of <a, b> in double */                                                \
    MFSR_KERNEL void dot_partials_##SUFFIX(const T* __restrict__ a,                      \
                                           const T* __restrict__ b, mfsr_index n,        \
                                           double* __restrict__ partials) {              \
        double s = 0.0;                                                                  \
        MFSR_GRID_LOOP(i, n) s += (double)a[i] * (double)b[i];                           \
        mfsr_block_store(s, partials);                                                   \
    }                                                                                    \
    /* one block: out[0] = the sum of the nb partials, rounded to T */                  \
    MFSR_KERNEL void sum_partials_##SUFFIX(const double* __restrict__ partials,          \
                                           mfsr_index nb, T* __restrict__ out) {         \
        double s = 0.0;                                                                  \
        MFSR_ONE_BLOCK_LOOP(b, nb) s += partials[b];                                     \
        s = mfsr_one_block_sum(s);                                                       \
        if (MFSR_ONE_BLOCK_LEADER) out[0] = (T)s;                                        \
    }                                                                                    \
    /* cg_update, and the block sums of the new <g, g> */                               \
    MFSR_KERNEL void cg_update_dot_##SUFFIX(const T* gg, const T* pq, mfsr_index n,      \
                                            T* __restrict__ x, const T* __restrict__ p,  \
                                            T* __restrict__ g, const T* __restrict__ q,  \
                                            double* __restrict__ partials) {             \
        const double num = (double)gg[0], den = (double)pq[0];                           \
        const T a = num != 0.0 ? (T)(num / (1e-30 > den ? 1e-30 : den)) : T(0);          \
        double s = 0.0;                                                                  \
        MFSR_GRID_LOOP(i, n) {                                                           \
            x[i] = x[i] + a * p[i];                                                      \
            const T gi = g[i] - a * q[i];                                                \
            g[i] = gi;                                                                   \
            s += (double)gi * (double)gi;                                                \
        }                                                                                \
        mfsr_block_store(s, partials);                                                   \
    }                                                                                    \
                                                                                         \
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

MFSR_IRLS_KERNELS(float, f32, int)
MFSR_IRLS_KERNELS(double, f64, mfsr_index)
