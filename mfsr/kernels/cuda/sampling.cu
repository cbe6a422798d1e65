// D B: separable strided correlation (PSF blur + decimation in one pass) and its adjoint.
// Matches mfsr.kernels.reference.strided_correlate / strided_correlate_adjoint:
//   out[l, i, j] = sum_a sum_b wy[a] wx[b] xpad[l, start0 + s*i + a, start1 + s*j + b]
// for a stack of n_lead images xpad (n_lead, ph, pw) and out (n_lead, h, w), all
// C-contiguous. The adjoint is written as a gather (one thread per padded pixel, no
// atomics, deterministic).
#include "mfsr_common.cuh"

template <typename T>
MFSR_HD T strided_correlate_at(const T* xpad, const T* wy, int ny, const T* wx, int nx,
                               mfsr_index start0, mfsr_index start1, mfsr_index s,
                               mfsr_index ph, mfsr_index pw, mfsr_index h, mfsr_index w,
                               mfsr_index o) {
    const mfsr_index l = o / (h * w);
    const mfsr_index rem = o - l * h * w;
    const mfsr_index i = rem / w, j = rem - (rem / w) * w;
    const T* base = xpad + l * ph * pw + (start0 + s * i) * pw + (start1 + s * j);
    T acc = T(0);
    for (int a = 0; a < ny; ++a) {
        const T* row = base + a * pw;
        T t = T(0);
        for (int b = 0; b < nx; ++b) t += wx[b] * row[b];
        acc += wy[a] * t;
    }
    return acc;
}

// First and last index k in [0, n) with 0 <= d - s*k < taps (empty when first > last).
MFSR_HD void mfsr_tap_range(mfsr_index d, mfsr_index s, int taps, mfsr_index n,
                            mfsr_index* first, mfsr_index* last) {
    if (d < 0) {
        *first = 1;
        *last = 0;
        return;
    }
    const mfsr_index hi = d / s;
    const mfsr_index lo_num = d - taps + 1;
    *first = lo_num <= 0 ? 0 : (lo_num + s - 1) / s;
    *last = hi < n - 1 ? hi : n - 1;
}

template <typename T>
MFSR_HD T strided_correlate_adjoint_at(const T* y, const T* wy, int ny, const T* wx, int nx,
                                       mfsr_index start0, mfsr_index start1, mfsr_index s,
                                       mfsr_index ph, mfsr_index pw, mfsr_index h,
                                       mfsr_index w, mfsr_index q) {
    const mfsr_index l = q / (ph * pw);
    const mfsr_index rem = q - l * ph * pw;
    const mfsr_index d = rem / pw - start0, e = rem - (rem / pw) * pw - start1;
    mfsr_index i0, i1, j0, j1;
    mfsr_tap_range(d, s, ny, h, &i0, &i1);
    mfsr_tap_range(e, s, nx, w, &j0, &j1);
    const T* ylead = y + l * h * w;
    T acc = T(0);
    for (mfsr_index i = i0; i <= i1; ++i) {
        T t = T(0);
        for (mfsr_index j = j0; j <= j1; ++j) t += wx[e - s * j] * ylead[i * w + j];
        acc += wy[d - s * i] * t;
    }
    return acc;
}

#define MFSR_SAMPLING_KERNELS(T, SUFFIX)                                                 \
    MFSR_KERNEL void strided_correlate_##SUFFIX(                                         \
        const T* __restrict__ xpad, const T* __restrict__ wy, int ny,                    \
        const T* __restrict__ wx, int nx, mfsr_index start0, mfsr_index start1,          \
        mfsr_index s, mfsr_index ph, mfsr_index pw, mfsr_index h, mfsr_index w,          \
        mfsr_index n, T* __restrict__ out) {                                             \
        MFSR_GRID_LOOP(o, n)                                                             \
        out[o] = strided_correlate_at<T>(xpad, wy, ny, wx, nx, start0, start1, s, ph,    \
                                         pw, h, w, o);                                   \
    }                                                                                    \
    MFSR_KERNEL void strided_correlate_adjoint_##SUFFIX(                                 \
        const T* __restrict__ y, const T* __restrict__ wy, int ny,                       \
        const T* __restrict__ wx, int nx, mfsr_index start0, mfsr_index start1,          \
        mfsr_index s, mfsr_index ph, mfsr_index pw, mfsr_index h, mfsr_index w,          \
        mfsr_index n, T* __restrict__ out) {                                             \
        MFSR_GRID_LOOP(q, n)                                                             \
        out[q] = strided_correlate_adjoint_at<T>(y, wy, ny, wx, nx, start0, start1, s,   \
                                                 ph, pw, h, w, q);                       \
    }

MFSR_SAMPLING_KERNELS(float, f32)
MFSR_SAMPLING_KERNELS(double, f64)
