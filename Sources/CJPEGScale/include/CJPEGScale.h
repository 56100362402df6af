#ifndef FRAMECAST_CJPEGSCALE_H
#define FRAMECAST_CJPEGSCALE_H

#include <stddef.h>

/// Decoding a JPEG straight to a smaller picture with libjpeg's DCT scaling: the decoder computes
/// only the coefficients a 1/2, 1/4 or 1/8 picture needs, so a rendition of a large frame never
/// pays for a full-size decode. libjpeg reports errors with longjmp, which Swift cannot survive:
/// every libjpeg call stays in this C file.

/// A decoder with its scratch memory, reused frame after frame. Not thread-safe: one per thread
/// at a time.
typedef struct fc_jpeg_scaler fc_jpeg_scaler;

fc_jpeg_scaler *fc_jpeg_scaler_new(void);
void fc_jpeg_scaler_free(fc_jpeg_scaler *scaler);

/// Reads the picture size from a JPEG's header. Returns 0, or -1 (the reason in
/// fc_jpeg_scaler_error).
int fc_jpeg_scaler_read_size(fc_jpeg_scaler *scaler, const unsigned char *jpeg, size_t size, int *width, int *height);

/// Decodes `jpeg` at `eighths`/8 of its size (1 to 8) and writes the region (`x`, `y`, `width`,
/// `height`) of that scaled picture to `out` as I420: the Y plane, then U, then V, each without
/// row padding. `width` must be a multiple of 8 and `height` even (so that the planes are what
/// GStreamer expects for I420 without padding), the region inside the scaled picture, and
/// `capacity` at least width * height * 3 / 2. Returns 0, or -1 (the reason in
/// fc_jpeg_scaler_error). Grayscale JPEGs come out with neutral chroma; CMYK ones are refused.
/// `expected_width` and `expected_height` (0: any) are the size the caller planned for: a JPEG
/// whose header says otherwise is refused before anything is decoded (a hostile header cannot
/// make libjpeg allocate for a picture nobody planned), and libjpeg's memory is capped.
int fc_jpeg_scaler_decode_i420(
    fc_jpeg_scaler *scaler, const unsigned char *jpeg, size_t size, int eighths, int expected_width, int expected_height,
    int x, int y, int width, int height, unsigned char *out, size_t capacity);

/// The reason for the last failure.
const char *fc_jpeg_scaler_error(const fc_jpeg_scaler *scaler);

#endif

/// Shrinks a region of an I420 picture by a whole `factor` (1 to 16) with a box filter (each
/// output pixel the mean of a factor x factor block), writing `width` x `height` (a multiple of 8,
/// even) I420 planes without padding to `out`. `planes`/`strides`: the source's Y, U and V. The
/// region (`x`, `y`, `width * factor`, `height * factor`, in source pixels) must lie inside the
/// source. Reads each source pixel once: for a rendition of a pipeline that offers its raw frames,
/// so that it never decodes a JPEG. Returns 0, or -1 for a bad argument.
int fc_i420_box_shrink(
    const unsigned char *const planes[3], const int strides[3], int source_width, int source_height,
    int x, int y, int factor, int width, int height, unsigned char *out, size_t capacity);
