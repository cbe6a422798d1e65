// Pyramidal Lucas-Kanade flow for a batch of image pairs (registration="gpu").
// Matches mfsr.kernels.reference.lk_level / lk_pyramid_down / lk_upsample / lk_confidence
// (same arithmetic: samples and products in T, window sums and the 2x2 solve in double,
// rounded to T where the reference rounds). Every kernel is a gather: one output element
// per index, no atomics, so the results do not depend on the launch configuration.
// Layouts (C-contiguous): images (M, h, w); gradients (M, 3, h, w) = image, d/dx, d/dy;
// flows (N, h, w, 2) as (dx, dy); products (N, 5, h, w); vertical sums (N, 7, h, w).
#include "mfsr_common.cuh"

#if defined(MFSR_HOST_EMULATION)
#include <cmath>
using std::exp;
#endif

// Largest median window side (mfsr.kernels.common.LK_MAX_MEDIAN).
#define MFSR_LK_MAX_MEDIAN 9

MFSR_HD mfsr_index lk_clamp(mfsr_index v, mfsr_index n) {
    return v < 0 ? 0 : (v >= n ? n - 1 : v);
}

// Clamped bilinear coordinate c on an axis of n px: the first index, *frac the fraction
// (_lk_axis of mfsr.kernels.reference.flow).
template <typename T>
MFSR_HD mfsr_index lk_axis(T c, mfsr_index n, T* frac) {
    c = mfsr_clip(c, T(0), (T)(n - 1));
    T i0 = floor(c);
    const T top = (T)(n >= 2 ? n - 2 : 0);
    i0 = i0 < top ? i0 : top;
    *frac = c - i0;
    return (mfsr_index)i0;
}

// Bilinear sample at flat index i of the top-left neighbour; dx, dy: steps to the right
// and lower neighbours (0 on an axis of one pixel).
template <typename T>
MFSR_HD T lk_bilerp(const T* x, mfsr_index i, mfsr_index dx, mfsr_index dy, T fy, T fx) {
    const T top = x[i] + fx * (x[i + dx] - x[i]);
    const T bot = x[i + dy] + fx * (x[i + dy + dx] - x[i + dy]);
    return top + fy * (bot - top);
}

// Each image and its central differences (edges replicated). n = M * h * w.
template <typename T>
MFSR_HD void lk_gradients_at(const T* images, mfsr_index h, mfsr_index w, mfsr_index p,
                             T* out) {
    const mfsr_index hw = h * w, m = p / hw, q = p % hw, i = q / w, j = q % w;
    const T* x = images + m * hw;
    T* g = out + 3 * m * hw + q;
    g[0] = x[q];
    g[hw] = T(0.5) * (x[i * w + lk_clamp(j + 1, w)] - x[i * w + lk_clamp(j - 1, w)]);
    g[2 * hw] = T(0.5) * (x[lk_clamp(i + 1, h) * w + j] - x[lk_clamp(i - 1, h) * w + j]);
}

// The five products of pair n at pixel q. n = N * h * w.
template <typename T>
MFSR_HD void lk_products_at(const T* grads, const mfsr_index* fi, const mfsr_index* ri,
                            const T* flows, mfsr_index h, mfsr_index w, mfsr_index p,
                            T* out) {
    const mfsr_index hw = h * w, n = p / hw, q = p % hw, i = q / w, j = q % w;
    const T* ref = grads + 3 * ri[n] * hw;
    const T* frame = grads + 3 * fi[n] * hw;
    T fy, fx;
    const mfsr_index i0 = lk_axis<T>((T)i + flows[2 * p + 1], h, &fy);
    const mfsr_index j0 = lk_axis<T>((T)j + flows[2 * p], w, &fx);
    const mfsr_index k = i0 * w + j0, dx = w > 1 ? 1 : 0, dy = h > 1 ? w : 0;
    const T v0 = lk_bilerp<T>(ref, k, dx, dy, fy, fx);
    const T v1 = lk_bilerp<T>(ref + hw, k, dx, dy, fy, fx);
    const T v2 = lk_bilerp<T>(ref + 2 * hw, k, dx, dy, fy, fx);
    const T gx = T(0.5) * (v1 + frame[hw + q]);
    const T gy = T(0.5) * (v2 + frame[2 * hw + q]);
    const T it = v0 - frame[q];
    T* o = out + 5 * n * hw + q;
    o[0] = gx * gx;
    o[hw] = gx * gy;
    o[2 * hw] = gy * gy;
    o[3 * hw] = gx * it;
    o[4 * hw] = gy * it;
}

// Channel c < 5: the products summed over rows by wa (radius ra); c = 5, 6: the flow's
// components summed by ws (radius rs). n = N * 7 * h * w.
template <typename T>
MFSR_HD void lk_vertical_at(const T* products, const T* flows, const double* wa, int ra,
                            const double* ws, int rs, mfsr_index h, mfsr_index w,
                            mfsr_index p, T* out) {
    const mfsr_index hw = h * w, nc = p / hw, q = p % hw, i = q / w, j = q % w;
    const mfsr_index n = nc / 7, c = nc % 7;
    double acc = 0.0;
    if (c < 5) {
        const T* x = products + (5 * n + c) * hw;
        for (int t = 0; t <= 2 * ra; ++t) acc += wa[t] * (double)x[lk_clamp(i + t - ra, h) * w + j];
    } else {
        const T* f = flows + 2 * n * hw + (c - 5);
        for (int t = 0; t <= 2 * rs; ++t)
            acc += ws[t] * (double)f[2 * (lk_clamp(i + t - rs, h) * w + j)];
    }
    out[p] = (T)acc;
}

// The column sums and the regularised 2x2 solve of pair n at pixel q. n = N * h * w.
template <typename T>
MFSR_HD void lk_solve_at(const T* vert, const T* flows, const double* wa, int ra,
                         const double* ws, int rs, double lam, mfsr_index h, mfsr_index w,
                         mfsr_index p, T* out) {
    const mfsr_index hw = h * w, n = p / hw, q = p % hw, i = q / w, j = q % w;
    double s[7];
    for (int c = 0; c < 7; ++c) {
        const T* x = vert + (7 * n + c) * hw + i * w;
        const double* wt = c < 5 ? wa : ws;
        const int r = c < 5 ? ra : rs;
        double acc = 0.0;
        for (int t = 0; t <= 2 * r; ++t) acc += wt[t] * (double)x[lk_clamp(j + t - r, w)];
        s[c] = (double)(T)acc;  // rounded to T, as the reference's sums
    }
    const double f0 = flows[2 * p], f1 = flows[2 * p + 1];
    const double r1 = s[0] * f0 + s[1] * f1 - s[3] + lam * s[5];
    const double r2 = s[1] * f0 + s[2] * f1 - s[4] + lam * s[6];
    const double a11 = s[0] + lam, a22 = s[2] + lam, a12 = s[1];
    const double det = a11 * a22 - a12 * a12;
    out[2 * p] = (T)((a22 * r1 - a12 * r2) / det);
    out[2 * p + 1] = (T)((a11 * r2 - a12 * r1) / det);
}

// Median of an m x m window (offsets -(m / 2) .. m - 1 - m / 2, edges replicated) of one
// flow component: element m * m / 2 of the sorted window. n = N * h * w * 2.
template <typename T>
MFSR_HD void lk_median_at(const T* flows, int m, mfsr_index h, mfsr_index w, mfsr_index p,
                          T* out) {
    const mfsr_index hw = h * w, n = p / (2 * hw), q = (p / 2) % hw, d = p % 2;
    const mfsr_index i = q / w, j = q % w, lo = -(mfsr_index)(m / 2);
    const T* f = flows + 2 * n * hw + d;
    T v[MFSR_LK_MAX_MEDIAN * MFSR_LK_MAX_MEDIAN];
    int k = 0;
    for (int a = 0; a < m; ++a) {
        const mfsr_index row = lk_clamp(i + lo + a, h) * w;
        for (int b = 0; b < m; ++b) {
            const T x = f[2 * (row + lk_clamp(j + lo + b, w))];
            int e = k++;
            while (e > 0 && v[e - 1] > x) {  // insertion sort
                v[e] = v[e - 1];
                --e;
            }
            v[e] = x;
        }
    }
    out[p] = v[(m * m) / 2];
}

// Blur (taps, radius r; rows then columns, each rounded to T) and keep every second
// pixel. n = M * ho * wo.
template <typename T>
MFSR_HD void lk_pyramid_down_at(const T* images, const double* taps, int r, mfsr_index h,
                                mfsr_index w, mfsr_index ho, mfsr_index wo, mfsr_index p,
                                T* out) {
    const mfsr_index m = p / (ho * wo), q = p % (ho * wo), i = 2 * (q / wo), j = 2 * (q % wo);
    const T* x = images + m * h * w;
    double acc = 0.0;
    for (int u = 0; u <= 2 * r; ++u) {
        const mfsr_index col = lk_clamp(j + u - r, w);
        double v = 0.0;
        for (int t = 0; t <= 2 * r; ++t) v += taps[t] * (double)x[lk_clamp(i + t - r, h) * w + col];
        acc += taps[u] * (double)(T)v;
    }
    out[p] = (T)acc;
}

// 2 f(P / 2, Q / 2) of one component. n = N * H * W * 2.
template <typename T>
MFSR_HD void lk_upsample_at(const T* flows, mfsr_index h, mfsr_index w, mfsr_index H,
                                 mfsr_index W, mfsr_index p, T* out) {
    const mfsr_index n = p / (2 * H * W), q = (p / 2) % (H * W), d = p % 2;
    T fy, fx;
    const mfsr_index i0 = lk_axis<T>((T)(q / W) / T(2), h, &fy);
    const mfsr_index j0 = lk_axis<T>((T)(q % W) / T(2), w, &fx);
    const mfsr_index dx = w > 1 ? 2 : 0, dy = h > 1 ? 2 * w : 0;
    out[p] = T(2) * lk_bilerp<T>(flows + 2 * n * h * w + d, 2 * (i0 * w + j0), dx, dy, fy, fx);
}

// exp(-|f(p) + b(p + f(p))|^2 / (2 tol^2)), 0 where p + f(p) leaves the frame.
// n = N * h * w.
template <typename T>
MFSR_HD void lk_confidence_at(const T* fwd, const T* bwd, double tol, mfsr_index h,
                              mfsr_index w, mfsr_index p, T* out) {
    const mfsr_index hw = h * w, n = p / hw, q = p % hw, i = q / w, j = q % w;
    const T f0 = fwd[2 * p], f1 = fwd[2 * p + 1];
    T fy, fx;
    const mfsr_index i0 = lk_axis<T>((T)i + f1, h, &fy);
    const mfsr_index j0 = lk_axis<T>((T)j + f0, w, &fx);
    const mfsr_index k = 2 * (i0 * w + j0), dx = w > 1 ? 2 : 0, dy = h > 1 ? 2 * w : 0;
    const T* b = bwd + 2 * n * hw;
    const double e0 = (double)(f0 + lk_bilerp<T>(b, k, dx, dy, fy, fx));
    const double e1 = (double)(f1 + lk_bilerp<T>(b + 1, k, dx, dy, fy, fx));
    const double tx = (double)j + (double)f0, ty = (double)i + (double)f1;
    const bool inside = tx >= -0.5 && tx <= (double)w - 0.5 && ty >= -0.5 && ty <= (double)h - 0.5;
    out[p] = inside ? (T)exp(-0.5 * (e0 * e0 + e1 * e1) / (tol * tol)) : T(0);
}

#define MFSR_FLOW_KERNELS(T, SUFFIX)                                                      \
    MFSR_KERNEL void lk_gradients_##SUFFIX(const T* __restrict__ images, mfsr_index h,    \
                                           mfsr_index w, mfsr_index n,                    \
                                           T* __restrict__ out) {                         \
        MFSR_GRID_LOOP(p, n) lk_gradients_at<T>(images, h, w, p, out);                    \
    }                                                                                     \
    MFSR_KERNEL void lk_products_##SUFFIX(                                                \
        const T* __restrict__ grads, const mfsr_index* __restrict__ fi,                   \
        const mfsr_index* __restrict__ ri, const T* __restrict__ flows, mfsr_index h,     \
        mfsr_index w, mfsr_index n, T* __restrict__ out) {                                \
        MFSR_GRID_LOOP(p, n) lk_products_at<T>(grads, fi, ri, flows, h, w, p, out);       \
    }                                                                                     \
    MFSR_KERNEL void lk_vertical_##SUFFIX(                                                \
        const T* __restrict__ products, const T* __restrict__ flows,                      \
        const double* __restrict__ wa, int ra, const double* __restrict__ ws, int rs,     \
        mfsr_index h, mfsr_index w, mfsr_index n, T* __restrict__ out) {                  \
        MFSR_GRID_LOOP(p, n) lk_vertical_at<T>(products, flows, wa, ra, ws, rs, h, w, p,  \
                                               out);                                      \
    }                                                                                     \
    MFSR_KERNEL void lk_solve_##SUFFIX(                                                   \
        const T* __restrict__ vert, const T* __restrict__ flows,                          \
        const double* __restrict__ wa, int ra, const double* __restrict__ ws, int rs,     \
        double lam, mfsr_index h, mfsr_index w, mfsr_index n, T* __restrict__ out) {      \
        MFSR_GRID_LOOP(p, n) lk_solve_at<T>(vert, flows, wa, ra, ws, rs, lam, h, w, p,    \
                                            out);                                         \
    }                                                                                     \
    MFSR_KERNEL void lk_median_##SUFFIX(const T* __restrict__ flows, int m, mfsr_index h, \
                                        mfsr_index w, mfsr_index n,                       \
                                        T* __restrict__ out) {                            \
        MFSR_GRID_LOOP(p, n) lk_median_at<T>(flows, m, h, w, p, out);                     \
    }                                                                                     \
    MFSR_KERNEL void lk_pyramid_down_##SUFFIX(                                            \
        const T* __restrict__ images, const double* __restrict__ taps, int r,             \
        mfsr_index h, mfsr_index w, mfsr_index ho, mfsr_index wo, mfsr_index n,           \
        T* __restrict__ out) {                                                            \
        MFSR_GRID_LOOP(p, n) lk_pyramid_down_at<T>(images, taps, r, h, w, ho, wo, p, out);\
    }                                                                                     \
    MFSR_KERNEL void lk_upsample_##SUFFIX(                                           \
        const T* __restrict__ flows, mfsr_index h, mfsr_index w, mfsr_index H,            \
        mfsr_index W, mfsr_index n, T* __restrict__ out) {                                \
        MFSR_GRID_LOOP(p, n) lk_upsample_at<T>(flows, h, w, H, W, p, out);           \
    }                                                                                     \
    MFSR_KERNEL void lk_confidence_##SUFFIX(                                              \
        const T* __restrict__ fwd, const T* __restrict__ bwd, double tol, mfsr_index h,   \
        mfsr_index w, mfsr_index n, T* __restrict__ out) {                                \
        MFSR_GRID_LOOP(p, n) lk_confidence_at<T>(fwd, bwd, tol, h, w, p, out);            \
    }

MFSR_FLOW_KERNELS(float, f32)
MFSR_FLOW_KERNELS(double, f64)
