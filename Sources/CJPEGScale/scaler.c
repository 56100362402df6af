#include "CJPEGScale.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct fc_error_manager {
    struct jpeg_error_mgr base;
    jmp_buf escape;
};

struct fc_jpeg_scaler {
    struct jpeg_decompress_struct decoder;
    struct fc_error_manager errors;
    /// Scanlines as libjpeg writes them (up to rec_outbuf_height rows of YCbCr or gray).
    unsigned char *rows;
    size_t rows_capacity;
    char reason[JMSG_LENGTH_MAX + 64];
};

static void fc_error_exit(j_common_ptr common) {
    struct fc_error_manager *errors = (struct fc_error_manager *)common->err;
    longjmp(errors->escape, 1);
}

// Corrupt-data warnings are frequent with real cameras and harmless: the picture is still used.
static void fc_output_message(j_common_ptr common) { (void)common; }

fc_jpeg_scaler *fc_jpeg_scaler_new(void) {
    fc_jpeg_scaler *scaler = calloc(1, sizeof *scaler);
    if (!scaler) return NULL;
    scaler->decoder.err = jpeg_std_error(&scaler->errors.base);
    scaler->errors.base.error_exit = fc_error_exit;
    scaler->errors.base.output_message = fc_output_message;
    if (setjmp(scaler->errors.escape)) {
        free(scaler);
        return NULL;
    }
    jpeg_create_decompress(&scaler->decoder);
    return scaler;
}

void fc_jpeg_scaler_free(fc_jpeg_scaler *scaler) {
    if (!scaler) return;
    jpeg_destroy_decompress(&scaler->decoder);
    free(scaler->rows);
    free(scaler);
}

const char *fc_jpeg_scaler_error(const fc_jpeg_scaler *scaler) { return scaler->reason; }

static void fc_record_libjpeg_error(fc_jpeg_scaler *scaler) {
    char message[JMSG_LENGTH_MAX];
    scaler->errors.base.format_message((j_common_ptr)&scaler->decoder, message);
    snprintf(scaler->reason, sizeof scaler->reason, "JPEG decoding failed: %s", message);
}

int fc_jpeg_scaler_read_size(fc_jpeg_scaler *scaler, const unsigned char *jpeg, size_t size, int *width, int *height) {
    struct jpeg_decompress_struct *decoder = &scaler->decoder;
    if (setjmp(scaler->errors.escape)) {
        fc_record_libjpeg_error(scaler);
        jpeg_abort_decompress(decoder);
        return -1;
    }
    jpeg_mem_src(decoder, jpeg, (unsigned long)size);
    jpeg_read_header(decoder, TRUE);
    *width = (int)decoder->image_width;
    *height = (int)decoder->image_height;
    jpeg_abort_decompress(decoder);
    return 0;
}

int fc_jpeg_scaler_decode_i420(
    fc_jpeg_scaler *scaler, const unsigned char *jpeg, size_t size, int eighths, int expected_width, int expected_height,
    int x, int y, int width, int height, unsigned char *out, size_t capacity) {
    struct jpeg_decompress_struct *decoder = &scaler->decoder;
    if (eighths < 1 || eighths > 8 || width <= 0 || height <= 0 || width % 8 != 0 || height % 2 != 0 || x < 0 || y < 0) {
        snprintf(scaler->reason, sizeof scaler->reason, "bad region %d,%d %dx%d at %d/8", x, y, width, height, eighths);
        return -1;
    }
    if (capacity < (size_t)width * (size_t)height * 3 / 2) {
        snprintf(scaler->reason, sizeof scaler->reason, "output buffer too small");
        return -1;
    }
    if (setjmp(scaler->errors.escape)) {
        fc_record_libjpeg_error(scaler);
        jpeg_abort_decompress(decoder);
        return -1;
    }
    jpeg_mem_src(decoder, jpeg, (unsigned long)size);
    jpeg_read_header(decoder, TRUE);
    if ((expected_width > 0 && (int)decoder->image_width != expected_width) ||
        (expected_height > 0 && (int)decoder->image_height != expected_height)) {
        snprintf(scaler->reason, sizeof scaler->reason, "the JPEG is %ux%u, not the %dx%d planned",
                 decoder->image_width, decoder->image_height, expected_width, expected_height);
        jpeg_abort_decompress(decoder);
        return -1;
    }
    // A progressive JPEG keeps every coefficient of the picture: bounded, whatever its header says.
    decoder->mem->max_memory_to_use = 256L * 1024 * 1024;
    int gray = decoder->num_components == 1;
    if (!gray && decoder->jpeg_color_space != JCS_YCbCr) {
        snprintf(scaler->reason, sizeof scaler->reason, "JPEG colour space %d is not YCbCr or grayscale", (int)decoder->jpeg_color_space);
        jpeg_abort_decompress(decoder);
        return -1;
    }
    // YCbCr out: no colour conversion at all, libjpeg only upsamples the chroma, and the cheap
    // way (the picture is being scaled down anyway).
    decoder->out_color_space = gray ? JCS_GRAYSCALE : JCS_YCbCr;
    decoder->scale_num = (unsigned int)eighths;
    decoder->scale_denom = 8;
    decoder->dct_method = JDCT_IFAST;
    decoder->do_fancy_upsampling = FALSE;
    decoder->do_block_smoothing = FALSE;
    jpeg_start_decompress(decoder);

    int scaled_width = (int)decoder->output_width;
    int scaled_height = (int)decoder->output_height;
    if (x + width > scaled_width || y + height > scaled_height) {
        snprintf(scaler->reason, sizeof scaler->reason, "region %d,%d %dx%d is outside the %dx%d picture decoded at %d/8",
                 x, y, width, height, scaled_width, scaled_height, eighths);
        jpeg_abort_decompress(decoder);
        return -1;
    }
    int channels = decoder->output_components;
    size_t row_bytes = (size_t)scaled_width * (size_t)channels;
    int batch = decoder->rec_outbuf_height > 0 ? decoder->rec_outbuf_height : 1;
    size_t needed = row_bytes * (size_t)batch;
    if (needed > scaler->rows_capacity) {
        unsigned char *grown = realloc(scaler->rows, needed);
        if (!grown) {
            snprintf(scaler->reason, sizeof scaler->reason, "out of memory");
            jpeg_abort_decompress(decoder);
            return -1;
        }
        scaler->rows = grown;
        scaler->rows_capacity = needed;
    }
    JSAMPROW pointers[16];
    if (batch > 16) batch = 16;
    for (int i = 0; i < batch; i++) pointers[i] = scaler->rows + row_bytes * (size_t)i;

    unsigned char *plane_y = out;
    unsigned char *plane_u = out + (size_t)width * (size_t)height;
    unsigned char *plane_v = plane_u + (size_t)(width / 2) * (size_t)(height / 2);
    if (gray) memset(plane_u, 128, (size_t)(width / 2) * (size_t)(height / 2) * 2);

    int last_row = y + height;
    while ((int)decoder->output_scanline < last_row) {
        int first = (int)decoder->output_scanline;
        int read = (int)jpeg_read_scanlines(decoder, pointers, (JDIMENSION)batch);
        for (int i = 0; i < read; i++) {
            int row = first + i - y;
            if (row < 0 || row >= height) continue;
            const unsigned char *source = pointers[i] + (size_t)x * (size_t)channels;
            unsigned char *luma = plane_y + (size_t)row * (size_t)width;
            if (gray) {
                memcpy(luma, source, (size_t)width);
                continue;
            }
            for (int column = 0; column < width; column++) luma[column] = source[column * 3];
            if (row % 2 == 0) {
                unsigned char *u = plane_u + (size_t)(row / 2) * (size_t)(width / 2);
                unsigned char *v = plane_v + (size_t)(row / 2) * (size_t)(width / 2);
                for (int column = 0; column < width / 2; column++) {
                    u[column] = source[column * 6 + 1];
                    v[column] = source[column * 6 + 2];
                }
            }
        }
    }
    // The rows below the region are never decoded.
    jpeg_abort_decompress(decoder);
    return 0;
}

// One plane: each output sample the mean of a factor x factor block. For each output row, the
// factor source rows are first added column by column into 16-bit `columns` (a plain loop over
// contiguous bytes that the compiler vectorises; at most 16 x 255 per column), then each group
// of factor columns is added once (a fraction 1/factor of the work) and divided with a multiply
// and a shift.
static void fc_shrink_plane(
    const unsigned char *source, int stride, int x, int y, int factor, int width, int height,
    unsigned char *out, unsigned short *columns) {
    unsigned int area = (unsigned int)(factor * factor);
    unsigned int reciprocal = (65536u + area / 2) / area;
    int span = width * factor;
    for (int row = 0; row < height; row++) {
        const unsigned char *in = source + (size_t)(y + row * factor) * (size_t)stride + x;
        for (int i = 0; i < span; i++) columns[i] = in[i];
        for (int line = 1; line < factor; line++) {
            in += stride;
            for (int i = 0; i < span; i++) columns[i] = (unsigned short)(columns[i] + in[i]);
        }
        unsigned char *target = out + (size_t)row * (size_t)width;
        const unsigned short *c = columns;
        switch (factor) {
        case 1:
            for (int column = 0; column < width; column++) target[column] = (unsigned char)c[column];
            break;
        case 2:
            for (int column = 0; column < width; column++)
                target[column] = (unsigned char)(((unsigned int)(c[2 * column] + c[2 * column + 1]) * reciprocal + 32768u) >> 16);
            break;
        case 3:
            for (int column = 0; column < width; column++)
                target[column] = (unsigned char)(((unsigned int)(c[3 * column] + c[3 * column + 1] + c[3 * column + 2]) * reciprocal + 32768u) >> 16);
            break;
        case 4:
            for (int column = 0; column < width; column++)
                target[column] = (unsigned char)(((unsigned int)(c[4 * column] + c[4 * column + 1] + c[4 * column + 2] + c[4 * column + 3])
                    * reciprocal + 32768u) >> 16);
            break;
        default:
            for (int column = 0; column < width; column++) {
                const unsigned short *group = c + column * factor;
                unsigned int sum = 0;
                for (int k = 0; k < factor; k++) sum += group[k];
                target[column] = (unsigned char)((sum * reciprocal + 32768u) >> 16);
            }
        }
    }
}

int fc_i420_box_shrink(
    const unsigned char *const planes[3], const int strides[3], int source_width, int source_height,
    int x, int y, int factor, int width, int height, unsigned char *out, size_t capacity) {
    if (factor < 1 || factor > 16 || width <= 0 || height <= 0 || width % 8 != 0 || height % 2 != 0 || x < 0 || y < 0) return -1;
    // Even offsets keep the chroma samples aligned with their luma.
    x &= ~1;
    y &= ~1;
    if (x + width * factor > source_width || y + height * factor > source_height) return -1;
    if (capacity < (size_t)width * (size_t)height * 3 / 2) return -1;
    unsigned short *sums = malloc(sizeof(unsigned short) * (size_t)width * (size_t)factor);
    if (!sums) return -1;
    fc_shrink_plane(planes[0], strides[0], x, y, factor, width, height, out, sums);
    unsigned char *u = out + (size_t)width * (size_t)height;
    unsigned char *v = u + (size_t)(width / 2) * (size_t)(height / 2);
    fc_shrink_plane(planes[1], strides[1], x / 2, y / 2, factor, width / 2, height / 2, u, sums);
    fc_shrink_plane(planes[2], strides[2], x / 2, y / 2, factor, width / 2, height / 2, v, sums);
    free(sums);
    return 0;
}
