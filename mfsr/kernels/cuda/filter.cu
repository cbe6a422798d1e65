// Small separable filters of (K, h, w) image stacks in two passes (rows, then columns),
// one output pixel per index (mfsr.kernels.reference.local_filter, normalized_filter,
// remove_offsets).
// The row pass reads the input through a map (the value, its square, value * weight or
// (value - other) * weight beside the weight), the column pass finishes (nothing, a
// square root, the ratio of the two filtered images with a floor on the denominator, or
// the input minus that ratio).
#include "mfsr_common.cuh"

#define MFSR_FILTER_VALUE 0
#define MFSR_FILTER_SQUARE 1
#define MFSR_FILTER_WEIGHTED 2  // t = G_x (b * a), t2 = G_x b
#define MFSR_FILTER_WEIGHTED_DIFFERENCE 3  // t = G_x (b * (a - c)), t2 = G_x b

#define MFSR_FINISH_NONE 0
#define MFSR_FINISH_ROOT 1
#define MFSR_FINISH_RATIO 2  // out = G_y t / max(G_y t2, floor)
#define MFSR_FINISH_MINUS_RATIO 3  // out = a - G_y t / max(G_y t2, floor)

// Index q + a - radius on an axis of length n: the edge index (replicate) or -1 (zero).
MFSR_HD mfsr_index mfsr_filter_tap_index(mfsr_index q, int a, int radius, mfsr_index n,
                                         int replicate) {
    mfsr_index s = q + a - radius;
    if (s >= 0 && s < n) return s;
    if (!replicate) return -1;
    return s < 0 ? 0 : n - 1;
}

template <typename T>
MFSR_HD void filter_rows_at(const T* a, const T* b, const T* c, const double* taps, int n_taps,
                            int replicate, int mode, mfsr_index w, mfsr_index p, T* t,
                            T* t2) {
    const mfsr_index j = p % w;
    const mfsr_index row = p - j;
    const int radius = n_taps / 2;
    T acc = T(0), acc2 = T(0);
    for (int k = 0; k < n_taps; ++k) {
        const mfsr_index s = mfsr_filter_tap_index(j, k, radius, w, replicate);
        if (s < 0) continue;
        const T v = a[row + s];
        const T tap = (T)taps[k];
        if (mode == MFSR_FILTER_SQUARE) {
            acc += tap * (v * v);
        } else if (mode == MFSR_FILTER_WEIGHTED) {
            const T wv = b[row + s];
            acc += tap * (wv * v);
            acc2 += tap * wv;
        } else if (mode == MFSR_FILTER_WEIGHTED_DIFFERENCE) {
            const T wv = b[row + s];
            acc += tap * (wv * (v - c[row + s]));
            acc2 += tap * wv;
        } else {
            acc += tap * v;
        }
    }
    t[p] = acc;
    if (mode >= MFSR_FILTER_WEIGHTED) t2[p] = acc2;
}

template <typename T>
MFSR_HD void filter_cols_at(const T* t, const T* t2, const T* a, const double* taps, int n_taps,
                            int replicate, int finish, T floor_value, mfsr_index zero_image,
                            mfsr_index h, mfsr_index w, mfsr_index p, T* out) {
    const mfsr_index image = p / (h * w);
    const mfsr_index rem = p - image * h * w;
    const mfsr_index i = rem / w, j = rem - (rem / w) * w;
    const mfsr_index base = image * h * w + j;
    const int radius = n_taps / 2;
    T acc = T(0), acc2 = T(0);
    for (int k = 0; k < n_taps; ++k) {
        const mfsr_index s = mfsr_filter_tap_index(i, k, radius, h, replicate);
        if (s < 0) continue;
        const T tap = (T)taps[k];
        acc += tap * t[base + s * w];
        if (finish >= MFSR_FINISH_RATIO) acc2 += tap * t2[base + s * w];
    }
    if (finish == MFSR_FINISH_ROOT) {
        acc = sqrt(acc > T(0) ? acc : T(0));
    } else if (finish >= MFSR_FINISH_RATIO) {
        acc = image == zero_image ? T(0) : acc / (acc2 > floor_value ? acc2 : floor_value);
        if (finish == MFSR_FINISH_MINUS_RATIO) acc = a[p] - acc;
    }
    out[p] = acc;
}

#define MFSR_FILTER_KERNELS(T, SUFFIX)                                                   \
    MFSR_KERNEL void filter_rows_##SUFFIX(                                               \
        const T* __restrict__ a, const T* __restrict__ b, const T* __restrict__ c,      \
        const double* __restrict__ taps, int n_taps, int replicate, int mode,            \
        mfsr_index w, mfsr_index n, T* __restrict__ t, T* __restrict__ t2) {             \
        MFSR_GRID_LOOP(p, n)                                                             \
        filter_rows_at<T>(a, b, c, taps, n_taps, replicate, mode, w, p, t, t2);          \
    }                                                                                    \
    MFSR_KERNEL void filter_cols_##SUFFIX(                                               \
        const T* __restrict__ t, const T* __restrict__ t2, const T* __restrict__ a,     \
        const double* __restrict__ taps, int n_taps, int replicate, int finish,          \
        T floor_value, mfsr_index zero_image, mfsr_index h, mfsr_index w, mfsr_index n,  \
        T* __restrict__ out) {                                                           \
        MFSR_GRID_LOOP(p, n)                                                             \
        filter_cols_at<T>(t, t2, a, taps, n_taps, replicate, finish, floor_value,        \
                          zero_image, h, w, p, out);                                     \
    }

MFSR_FILTER_KERNELS(float, f32)
MFSR_FILTER_KERNELS(double, f64)
