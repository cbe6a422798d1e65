// Kernel-regression merge of a burst (mfsr.kernels.reference.kernel_merge), in gather
// form: one thread per HR output pixel X = (Q, P) reads the LR samples near it in every
// frame, so there are no atomics and the result does not depend on the launch.
//
// For frame k: u = (X - phase) / scale is X on the reference LR grid; p = u - flow_k(u),
// then p = u - flow_k(p) (bilinear, clamped) is where X falls in frame k. The samples j
// with floor(p) - radius < j <= floor(p) + radius (per axis, inside the frame) and a
// positive weight contribute at their exact reference position j + flow_k(j):
//   d = j + flow_k(j) - u,  q = a dx^2 + 2 b dx dy + c dy^2   (icov(X) = (a, b, c))
//   g = weight[k, j] t(j_x - p_x) t(j_y - p_y) exp(-q / 2)    (0 when q > cutoff)
// with the smooth window t(e) = u^2 (3 - 2u), u = clip(radius - |e|, 0, 1). Channel ch
// gets sum g y / sum g; at a total weight <= tiny, the sample with the smallest q.
//
// frames (K, h, w, L) T; L == 1: sample j goes to channel[j]; L == C: value l to l.
// flows (K, h, w, 2) float (dx, dy); weights (K, h, w) T; icov (H, W, 3) T;
// channel (h, w) int; consts = [radius, 1, 1/2, 2, 3, cutoff, tiny, inf] (T);
// out, support (H, W, C) T (support: the total weight, 0 for the nearest-sample
// fallback, -1 where no sample is in reach).
#include "mfsr_common.cuh"

#if defined(MFSR_HOST_EMULATION)
using std::exp;
#endif

// Channels one thread accumulates (cupy_kernels.MERGE_MAX_CHANNELS).
#define MFSR_MERGE_MAX_CHANNELS 8

// Bilinear sample of flow_k (h, w, 2) at (x, y), clamped, in the order of the reference:
// top = f00 (1 - a) + f01 a, bot = f10 (1 - a) + f11 a, value = top (1 - b) + bot b.
template <typename T>
MFSR_HD void merge_flow_at(const float* flow_k, mfsr_index h, mfsr_index w, T x, T y,
                           T* fx, T* fy) {
    const T cx = mfsr_clip(x, T(0), (T)(w - 1)), cy = mfsr_clip(y, T(0), (T)(h - 1));
    mfsr_index j0 = (mfsr_index)floor(cx), i0 = (mfsr_index)floor(cy);
    const mfsr_index jmax = w - 2 > 0 ? w - 2 : 0, imax = h - 2 > 0 ? h - 2 : 0;
    j0 = j0 < jmax ? j0 : jmax;
    i0 = i0 < imax ? i0 : imax;
    const mfsr_index j1 = j0 + 1 < w - 1 ? j0 + 1 : w - 1;
    const mfsr_index i1 = i0 + 1 < h - 1 ? i0 + 1 : h - 1;
    const T a = cx - (T)j0, b = cy - (T)i0;
    const T oa = T(1) - a, ob = T(1) - b;
    const float* f00 = flow_k + 2 * (i0 * w + j0);
    const float* f01 = flow_k + 2 * (i0 * w + j1);
    const float* f10 = flow_k + 2 * (i1 * w + j0);
    const float* f11 = flow_k + 2 * (i1 * w + j1);
    T v[2];
    for (int d = 0; d < 2; ++d) {
        const T top = (T)f00[d] * oa + (T)f01[d] * a;
        const T bot = (T)f10[d] * oa + (T)f11[d] * a;
        v[d] = top * ob + bot * b;
    }
    *fx = v[0];
    *fy = v[1];
}

template <typename T>
MFSR_HD T merge_taper(T e, const T* c) {
    const T u = mfsr_clip(c[0] - (e < T(0) ? -e : e), T(0), c[1]);
    return u * u * (c[4] - c[3] * u);
}

template <typename T>
MFSR_HD void kernel_merge_at(const T* frames, const float* flows, const T* weights,
                             const T* icov, const int* channel, const T* c, int radius,
                             mfsr_index n_frames, mfsr_index h, mfsr_index w, int n_values,
                             int n_channels, T scale, T phase, mfsr_index H, mfsr_index W,
                             mfsr_index o, T* out, T* support) {
    const mfsr_index P = o / W, Q = o - (o / W) * W;
    const T vx = ((T)Q - phase) / scale, vy = ((T)P - phase) / scale;
    const T a = icov[3 * o], b2 = c[3] * icov[3 * o + 1], cc = icov[3 * o + 2];
    const T zero = T(0), half = c[2], cutoff = c[5], tiny = c[6], inf = c[7];
    T num[MFSR_MERGE_MAX_CHANNELS], den[MFSR_MERGE_MAX_CHANNELS];
    T bestq[MFSR_MERGE_MAX_CHANNELS], bestv[MFSR_MERGE_MAX_CHANNELS];
    for (int ch = 0; ch < n_channels; ++ch) {
        num[ch] = den[ch] = bestv[ch] = zero;
        bestq[ch] = inf;
    }
    for (mfsr_index k = 0; k < n_frames; ++k) {
        const float* flow_k = flows + k * h * w * 2;
        T fx, fy;
        merge_flow_at(flow_k, h, w, vx, vy, &fx, &fy);
        T px = vx - fx, py = vy - fy;
        merge_flow_at(flow_k, h, w, px, py, &fx, &fy);
        px = vx - fx;
        py = vy - fy;
        const mfsr_index bx = (mfsr_index)floor(px), by = (mfsr_index)floor(py);
        const mfsr_index y0 = by - radius + 1 > 0 ? by - radius + 1 : 0;
        const mfsr_index y1 = by + radius < h - 1 ? by + radius : h - 1;
        const mfsr_index x0 = bx - radius + 1 > 0 ? bx - radius + 1 : 0;
        const mfsr_index x1 = bx + radius < w - 1 ? bx + radius : w - 1;
        for (mfsr_index jy = y0; jy <= y1; ++jy) {
            const T ty = merge_taper((T)jy - py, c);
            if (!(ty > zero)) continue;
            for (mfsr_index jx = x0; jx <= x1; ++jx) {
                const mfsr_index j = (k * h + jy) * w + jx;
                const T wgt = weights[j];
                if (!(wgt > zero)) continue;  // first: a masked-out sample costs one read
                const T tx = merge_taper((T)jx - px, c);
                if (!(tx > zero)) continue;
                const T dx = ((T)jx + (T)flows[2 * j]) - vx;
                const T dy = ((T)jy + (T)flows[2 * j + 1]) - vy;
                const T q = a * dx * dx + b2 * dx * dy + cc * dy * dy;
                const T g = q <= cutoff ? wgt * ty * tx * exp(-half * q) : zero;
                if (n_values == 1) {
                    const int ch = channel[jy * w + jx];
                    const T v = frames[j];
                    num[ch] += g * v;
                    den[ch] += g;
                    if (q < bestq[ch]) {
                        bestq[ch] = q;
                        bestv[ch] = v;
                    }
                } else {
                    for (int ch = 0; ch < n_channels; ++ch) {
                        const T v = frames[j * n_values + ch];
                        num[ch] += g * v;
                        den[ch] += g;
                        if (q < bestq[ch]) {
                            bestq[ch] = q;
                            bestv[ch] = v;
                        }
                    }
                }
            }
        }
    }
    for (int ch = 0; ch < n_channels; ++ch) {
        const mfsr_index i = o * n_channels + ch;
        if (den[ch] > tiny) {
            out[i] = num[ch] / den[ch];
            support[i] = den[ch];
        } else if (bestq[ch] < inf) {
            out[i] = bestv[ch];
            support[i] = zero;
        } else {
            out[i] = zero;
            support[i] = -c[1];
        }
    }
}

#define MFSR_MERGE_KERNELS(T, SUFFIX)                                                    \
    MFSR_KERNEL void kernel_merge_##SUFFIX(                                              \
        const T* __restrict__ frames, const float* __restrict__ flows,                   \
        const T* __restrict__ weights, const T* __restrict__ icov,                       \
        const int* __restrict__ channel, const T* __restrict__ consts, int radius,       \
        mfsr_index n_frames, mfsr_index h, mfsr_index w, int n_values, int n_channels,   \
        T scale, T phase, mfsr_index H, mfsr_index W, T* __restrict__ out,               \
        T* __restrict__ support) {                                                       \
        MFSR_GRID_LOOP(o, H * W)                                                         \
        kernel_merge_at<T>(frames, flows, weights, icov, channel, consts, radius,        \
                           n_frames, h, w, n_values, n_channels, scale, phase, H, W, o,  \
                           out, support);                                                \
    }

MFSR_MERGE_KERNELS(float, f32)
MFSR_MERGE_KERNELS(double, f64)
