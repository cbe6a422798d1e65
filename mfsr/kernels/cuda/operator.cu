// The system operator A = D B W_k over all K frames, and A^T, for a separable PSF.
// D B is given as two sparse matrices in ELL form (a fixed number m of entries per row:
// column indices `idx` (int64) and weights `wts` (float64, cast to T on read)), applied
// as S_y z S_x^T (mfsr.kernels.reference.separable_gather). The warps are computed on
// the fly from the LR flows (mfsr_warp_table), so no per-pixel tables are stored or read.
//
//   A x:   warp_frames       z[k] = W_k x                    (K, H, W)
//          ell_gather_rows   t = S_y z                       (K, h, W)
//          ell_gather_cols   out = t S_x^T                   (K, h, w)
//   A^T y: ell_gather_rows   t = S_y^T y  (transposed table) (K, H, w)
//          (ell_gather_rows_weighted: t = S_y^T (b * y), data weights b read with y)
//          gather_cols_splat out = sum_k W_k^T (t[k] S_x)    (H, W), atomic splats
#include "mfsr_common.cuh"

// t[l, i, q] = sum_a w[i, a] z[l, idx[i, a], q]: z (n_lead, n_in, width), t (n_lead, n_out, width)
template <typename T>
MFSR_HD T ell_gather_rows_at(const T* z, const mfsr_index* idx, const double* wts, int m,
                             mfsr_index n_in, mfsr_index n_out, mfsr_index width,
                             mfsr_index o) {
    const mfsr_index l = o / (n_out * width);
    const mfsr_index rem = o - l * n_out * width;
    const mfsr_index i = rem / width, q = rem - (rem / width) * width;
    const T* zl = z + l * n_in * width + q;
    T acc = T(0);
    for (int a = 0; a < m; ++a) acc += (T)wts[i * m + a] * zl[idx[i * m + a] * width];
    return acc;
}

// The same over the product zw * z (each product rounded in T first, as the NumPy
// expression `zw * z`): S_y (zw * z) without the product image (A^T with data weights).
template <typename T>
MFSR_HD T ell_gather_rows_weighted_at(const T* z, const T* zw, const mfsr_index* idx,
                                      const double* wts, int m, mfsr_index n_in,
                                      mfsr_index n_out, mfsr_index width, mfsr_index o) {
    const mfsr_index l = o / (n_out * width);
    const mfsr_index rem = o - l * n_out * width;
    const mfsr_index i = rem / width, q = rem - (rem / width) * width;
    const T* zl = z + l * n_in * width + q;
    const T* wl = zw + l * n_in * width + q;
    T acc = T(0);
    for (int a = 0; a < m; ++a) {
        const mfsr_index at = idx[i * m + a] * width;
        const T v = wl[at] * zl[at];
        acc += (T)wts[i * m + a] * v;
    }
    return acc;
}

// One output of a row of t times S_x^T: sum_b w[j, b] row[idx[j, b]].
template <typename T>
MFSR_HD T ell_dot(const T* row, const mfsr_index* idx, const double* wts, int m,
                  mfsr_index j) {
    T acc = T(0);
    for (int b = 0; b < m; ++b) acc += (T)wts[j * m + b] * row[idx[j * m + b]];
    return acc;
}

// out[r, j] = sum_b w[j, b] t[r, idx[j, b]]: t (n_rows, width_in), out (n_rows, width_out)
template <typename T>
MFSR_HD T ell_gather_cols_at(const T* t, const mfsr_index* idx, const double* wts, int m,
                             mfsr_index width_in, mfsr_index width_out, mfsr_index o) {
    const mfsr_index r = o / width_out, j = o - (o / width_out) * width_out;
    return ell_dot(t + r * width_in, idx, wts, m, j);
}

// z[k, P, Q] = (W_k x)(P, Q), or x(P, Q) for an identity warp.
template <typename T>
MFSR_HD T warp_frames_at(const T* x, const float* flows, const int* identity,
                         const mfsr_index* r0, const mfsr_index* r1, const float* ar,
                         const mfsr_index* c0, const mfsr_index* c1, const float* ac,
                         float scale, mfsr_index h_lr, mfsr_index w_lr, mfsr_index H,
                         mfsr_index W, mfsr_index o) {
    const mfsr_index k = o / (H * W), p = o - (o / (H * W)) * (H * W);
    if (identity[k]) return x[p];
    mfsr_index i;
    float fy, fx;
    mfsr_warp_table(flows + k * h_lr * w_lr * 2, w_lr, r0, r1, ar, c0, c1, ac, scale, H, W,
                    p / W, p - (p / W) * W, &i, &fy, &fx);
    return mfsr_bilerp(x, i, W, fy, fx);
}

// HR pixel p = (P, Q): z_k = sum_b w[Q, b] t[k, P, idx[Q, b]] for every frame, added at p
// (identity warps) or splatted by W_k^T; out is zeroed by the caller.
template <typename T>
MFSR_HD void gather_cols_splat_at(const T* t, const mfsr_index* idx, const double* wts,
                                  int m, const float* flows, const int* identity,
                                  int n_frames, const mfsr_index* r0, const mfsr_index* r1,
                                  const float* ar, const mfsr_index* c0,
                                  const mfsr_index* c1, const float* ac, float scale,
                                  mfsr_index h_lr, mfsr_index w_lr, mfsr_index H,
                                  mfsr_index W, mfsr_index w_in, mfsr_index p, T* out) {
    const mfsr_index P = p / W, Q = p - (p / W) * W;
    T direct = T(0);
    bool any_identity = false;
    for (int k = 0; k < n_frames; ++k) {
        const T z = ell_dot(t + ((mfsr_index)k * H + P) * w_in, idx, wts, m, Q);
        if (identity[k]) {
            direct += z;
            any_identity = true;
            continue;
        }
        mfsr_index i;
        float fy, fx;
        mfsr_warp_table(flows + k * h_lr * w_lr * 2, w_lr, r0, r1, ar, c0, c1, ac, scale, H,
                        W, P, Q, &i, &fy, &fx);
        mfsr_splat(out, i, W, fy, fx, z);
    }
    if (any_identity) mfsr_add(out + p, direct);
}

#define MFSR_OPERATOR_KERNELS(T, SUFFIX)                                                 \
    MFSR_KERNEL void ell_gather_rows_##SUFFIX(                                           \
        const T* __restrict__ z, const mfsr_index* __restrict__ idx,                     \
        const double* __restrict__ wts, int m, mfsr_index n_in, mfsr_index n_out,        \
        mfsr_index width, mfsr_index n, T* __restrict__ t) {                             \
        MFSR_GRID_LOOP(o, n)                                                             \
        t[o] = ell_gather_rows_at<T>(z, idx, wts, m, n_in, n_out, width, o);             \
    }                                                                                    \
    MFSR_KERNEL void ell_gather_rows_weighted_##SUFFIX(                                  \
        const T* __restrict__ z, const T* __restrict__ zw,                               \
        const mfsr_index* __restrict__ idx, const double* __restrict__ wts, int m,       \
        mfsr_index n_in, mfsr_index n_out, mfsr_index width, mfsr_index n,               \
        T* __restrict__ t) {                                                             \
        MFSR_GRID_LOOP(o, n)                                                             \
        t[o] = ell_gather_rows_weighted_at<T>(z, zw, idx, wts, m, n_in, n_out, width, o); \
    }                                                                                    \
    MFSR_KERNEL void ell_gather_cols_##SUFFIX(                                           \
        const T* __restrict__ t, const mfsr_index* __restrict__ idx,                     \
        const double* __restrict__ wts, int m, mfsr_index width_in,                      \
        mfsr_index width_out, mfsr_index n, T* __restrict__ out) {                       \
        MFSR_GRID_LOOP(o, n)                                                             \
        out[o] = ell_gather_cols_at<T>(t, idx, wts, m, width_in, width_out, o);          \
    }                                                                                    \
    MFSR_KERNEL void warp_frames_##SUFFIX(                                               \
        const T* __restrict__ x, const float* __restrict__ flows,                        \
        const int* __restrict__ identity, const mfsr_index* __restrict__ r0,             \
        const mfsr_index* __restrict__ r1, const float* __restrict__ ar,                 \
        const mfsr_index* __restrict__ c0, const mfsr_index* __restrict__ c1,            \
        const float* __restrict__ ac, float scale, mfsr_index h_lr, mfsr_index w_lr,     \
        mfsr_index H, mfsr_index W, mfsr_index n, T* __restrict__ z) {                   \
        MFSR_GRID_LOOP(o, n)                                                             \
        z[o] = warp_frames_at<T>(x, flows, identity, r0, r1, ar, c0, c1, ac, scale,      \
                                 h_lr, w_lr, H, W, o);                                   \
    }                                                                                    \
    MFSR_KERNEL void gather_cols_splat_##SUFFIX(                                         \
        const T* __restrict__ t, const mfsr_index* __restrict__ idx,                     \
        const double* __restrict__ wts, int m, const float* __restrict__ flows,          \
        const int* __restrict__ identity, int n_frames,                                  \
        const mfsr_index* __restrict__ r0, const mfsr_index* __restrict__ r1,            \
        const float* __restrict__ ar, const mfsr_index* __restrict__ c0,                 \
        const mfsr_index* __restrict__ c1, const float* __restrict__ ac, float scale,    \
        mfsr_index h_lr, mfsr_index w_lr, mfsr_index H, mfsr_index W, mfsr_index w_in,   \
        T* out) {                                                                        \
        MFSR_GRID_LOOP(p, H * W)                                                         \
        gather_cols_splat_at<T>(t, idx, wts, m, flows, identity, n_frames, r0, r1, ar,   \
                                c0, c1, ac, scale, h_lr, w_lr, H, W, w_in, p, out);      \
    }

MFSR_OPERATOR_KERNELS(float, f32)
MFSR_OPERATOR_KERNELS(double, f64)
