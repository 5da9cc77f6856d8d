/* Shape checks of conv2d and pool2d: see conv_shape.h. Every check names
 * the numbers at fault, and every size the kernels later multiply is proven
 * here not to overflow, so the kernels index with plain int64 arithmetic. */
#include "ops/conv_shape.h"

#include <stdio.h>

/* Element counts stay below 2^60: bytes (x4) and the kernels' sums of a few
 * counts then fit in int64 and size_t with room to spare. */
#define COUNT_LIMIT ((int64_t)1 << 60)

/* a * b, or -1 when it would pass COUNT_LIMIT (a, b >= 0). */
static int64_t mul_lim(int64_t a, int64_t b)
{
    if (a < 0 || b < 0)
        return -1;
    if (a != 0 && b > COUNT_LIMIT / a)
        return -1;
    return a * b;
}

static int64_t count4(int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t ab = mul_lim(a, b), cd = mul_lim(c, d);
    return ab < 0 || cd < 0 ? -1 : mul_lim(ab, cd);
}

/* "3" when h == w, else "3x1": how messages show a (height, width) pair. */
static const char *pair(char *buf, size_t size, int64_t h, int64_t w)
{
    if (h == w)
        snprintf(buf, size, "%lld", (long long)h);
    else
        snprintf(buf, size, "%lldx%lld", (long long)h, (long long)w);
    return buf;
}

typedef struct named {
    const char *name;
    int64_t value;
} named;

/* The first of `n` values below `min`, reported with `op`'s prefix. */
static repro_status at_least(const char *op, const named *v, int n, int64_t min, repro_error *err)
{
    for (int i = 0; i < n; i++)
        if (v[i].value < min)
            return repro_fail(err, REPRO_ERR_ARG, "%s: %s must be at least %lld, got %lld", op, v[i].name,
                              (long long)min, (long long)v[i].value);
    return REPRO_OK;
}

/* The padded extent size + 2*pad and the dilated kernel extent
 * dil*(k-1)+1 of one dimension, or -1 on overflow. */
static int64_t padded(int64_t size, int64_t pad)
{
    int64_t p2 = mul_lim(pad, 2);
    return p2 < 0 || size > COUNT_LIMIT - p2 ? -1 : size + p2;
}

static int64_t dilated(int64_t k, int64_t dil)
{
    int64_t span = mul_lim(dil, k - 1);
    return span < 0 ? -1 : span + 1;
}

/* The kernel (dilated extents kh x kw) against the padded input: fills the
 * output size or fails with the numbers. `what` is " (dilation 2)" or "". */
static repro_status output_size(const char *op, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t kh,
                                int64_t kw, int64_t ph, int64_t pw, int64_t sh, int64_t sw, const char *what,
                                int64_t *OH, int64_t *OW, repro_error *err)
{
    int64_t hp = padded(H, ph), wp = padded(W, pw);
    if (hp < 0 || wp < 0 || kh < 0 || kw < 0)
        return repro_fail(err, REPRO_ERR_ARG, "%s: padding or dilation too large to count (over 2^60)", op);
    if (kh > hp || kw > wp) {
        char pad[48];
        return repro_fail(err, REPRO_ERR_ARG, "%s: kernel %lldx%lld%s is larger than the padded input %lldx%lld (padding %s)",
                          op, (long long)KH, (long long)KW, what, (long long)hp, (long long)wp,
                          pair(pad, sizeof pad, ph, pw));
    }
    *OH = (hp - kh) / sh + 1;
    *OW = (wp - kw) / sw + 1;
    return REPRO_OK;
}

static repro_status too_large(const char *op, const char *what, int64_t a, int64_t b, int64_t c, int64_t d,
                              repro_error *err)
{
    return repro_fail(err, REPRO_ERR_ARG, "%s: %s [%lld][%lld][%lld][%lld] has more than 2^60 elements", op, what,
                      (long long)a, (long long)b, (long long)c, (long long)d);
}

repro_status repro_conv2d_shape_check(repro_conv2d_shape *s, repro_error *err)
{
    const char *op = "conv2d";
    const named sizes[] = {{"batch size N", s->N},     {"input channels C", s->C}, {"input height H", s->H},
                           {"input width W", s->W},    {"output channels O", s->O}, {"kernel height KH", s->KH},
                           {"kernel width KW", s->KW}, {"groups", s->groups},      {"stride_h", s->stride_h},
                           {"stride_w", s->stride_w},  {"dil_h", s->dil_h},        {"dil_w", s->dil_w}};
    const named pads[] = {{"pad_h", s->pad_h}, {"pad_w", s->pad_w}};
    repro_status st = at_least(op, sizes, (int)(sizeof sizes / sizeof sizes[0]), 1, err);
    if (st == REPRO_OK)
        st = at_least(op, pads, 2, 0, err);
    if (st != REPRO_OK)
        return st;
    if (s->C % s->groups != 0 || s->O % s->groups != 0) {
        int in = s->C % s->groups != 0;
        return repro_fail(err, REPRO_ERR_ARG, "%s: groups %lld does not divide %lld %s channels", op,
                          (long long)s->groups, (long long)(in ? s->C : s->O), in ? "input" : "output");
    }
    char dil[48], what[64];
    snprintf(what, sizeof what, " (dilation %s)", pair(dil, sizeof dil, s->dil_h, s->dil_w));
    int64_t OH, OW;
    st = output_size(op, s->H, s->W, s->KH, s->KW, dilated(s->KH, s->dil_h), dilated(s->KW, s->dil_w), s->pad_h,
                     s->pad_w, s->stride_h, s->stride_w, what, &OH, &OW, err);
    if (st != REPRO_OK)
        return st;
    int64_t Cg = s->C / s->groups, Og = s->O / s->groups;
    if (count4(s->N, s->C, s->H, s->W) < 0)
        return too_large(op, "input x", s->N, s->C, s->H, s->W, err);
    if (count4(s->N, s->O, OH, OW) < 0)
        return too_large(op, "output y", s->N, s->O, OH, OW, err);
    if (count4(s->O, Cg, s->KH, s->KW) < 0)
        return too_large(op, "weight w", s->O, Cg, s->KH, s->KW, err);
    /* the fast kernels' scratch, per image and group: the im2col matrices
     * (taps x pixels) and the zero-padded planes they are copied from */
    const int64_t Hp = s->H + 2 * s->pad_h, Wp = s->W + 2 * s->pad_w;
    const int64_t Hq = s->H + (s->KH - 1) * s->dil_h, Wq = s->W + (s->KW - 1) * s->dil_w;
    if (count4(Cg * s->KH, s->KW, OH, OW) < 0 || count4(Og * s->KH, s->KW, s->H, s->W) < 0)
        return too_large(op, "im2col matrix", Cg > Og ? Cg : Og, s->KH * s->KW, OH > s->H ? OH : s->H,
                         OW > s->W ? OW : s->W, err);
    if (count4(Cg, Hp, Wp, 1) < 0)
        return too_large(op, "one image's padded input", 1, Cg, Hp, Wp, err);
    if (count4(Og, Hq, Wq, 1) < 0)
        return too_large(op, "one image's spread output gradient", 1, Og, Hq, Wq, err);
    s->OH = OH;
    s->OW = OW;
    return REPRO_OK;
}

repro_status repro_pool2d_shape_check(repro_pool2d_shape *s, repro_error *err)
{
    const char *op = "pool2d";
    const named sizes[] = {{"batch size N", s->N},     {"channels C", s->C},       {"input height H", s->H},
                           {"input width W", s->W},    {"kernel height KH", s->KH}, {"kernel width KW", s->KW},
                           {"stride_h", s->stride_h}, {"stride_w", s->stride_w}};
    const named pads[] = {{"pad_h", s->pad_h}, {"pad_w", s->pad_w}};
    repro_status st = at_least(op, sizes, (int)(sizeof sizes / sizeof sizes[0]), 1, err);
    if (st == REPRO_OK)
        st = at_least(op, pads, 2, 0, err);
    if (st != REPRO_OK)
        return st;
    if (s->pad_h > s->KH / 2 || s->pad_w > s->KW / 2) {
        int h = s->pad_h > s->KH / 2;
        return repro_fail(err, REPRO_ERR_ARG, "%s: padding %lld is more than half the kernel %lld", op,
                          (long long)(h ? s->pad_h : s->pad_w), (long long)(h ? s->KH : s->KW));
    }
    int64_t OH, OW;
    st = output_size(op, s->H, s->W, s->KH, s->KW, s->KH, s->KW, s->pad_h, s->pad_w, s->stride_h, s->stride_w, "",
                     &OH, &OW, err);
    if (st != REPRO_OK)
        return st;
    if (count4(s->N, s->C, s->H, s->W) < 0)
        return too_large(op, "input x", s->N, s->C, s->H, s->W, err);
    if (count4(s->N, s->C, OH, OW) < 0)
        return too_large(op, "output y", s->N, s->C, OH, OW, err);
    if (s->H > INT32_MAX / s->W)
        return repro_fail(err, REPRO_ERR_ARG, "%s: a plane of %lldx%lld elements is too large for an int32 argmax",
                          op, (long long)s->H, (long long)s->W);
    s->OH = OH;
    s->OW = OW;
    return REPRO_OK;
}
