/* The IDX reader on the real Fashion-MNIST files (Debian package
 * dataset-fashion-mnist); skipped when they are not installed. */
#include "repro/data.h"

#include <sys/stat.h>

#include "testutil.h"

#define FASHION "/usr/share/datasets/fashion-mnist/"

int main(void)
{
    struct stat sb;
    if (stat(FASHION "train-images-idx3-ubyte.gz", &sb) != 0) {
        TEST_SKIP("Fashion-MNIST is not installed (" FASHION ")");
    }
    repro_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.scale = 1.0f / 255.0f;
    snprintf(cfg.train_images, sizeof cfg.train_images, FASHION "train-images-idx3-ubyte.gz");
    snprintf(cfg.train_labels, sizeof cfg.train_labels, FASHION "train-labels-idx1-ubyte.gz");
    snprintf(cfg.test_images, sizeof cfg.test_images, FASHION "t10k-images-idx3-ubyte.gz");
    snprintf(cfg.test_labels, sizeof cfg.test_labels, FASHION "t10k-labels-idx1-ubyte.gz");
    cfg.limit_train = 1000;
    cfg.limit_test = 1000;
    repro_dataset train, test;
    repro_error err;
    CHECK_MSG(repro_data_load(&cfg, &train, &test, &err) == REPRO_OK, "%s", err.message);
    CHECK(train.n == 1000 && train.n_features == 784 && train.n_classes == 10);
    CHECK(test.n == 1000 && test.n_features == 784 && test.n_classes == 10);
    CHECK(train.y == NULL && train.n_targets == 0);
    CHECK(train.image_h == 28 && train.image_w == 28 && test.image_h == 28 && test.image_w == 28);
    /* Values looked up once with numpy: train image 0 has pixels 99 = 13 and
     * 100 = 73; labels 9 (sample 0) and 8 (sample 999); test image 0 pixel
     * 215 = 3, test label 999 = 7. */
    const float s = 1.0f / 255.0f;
    /* The sets keep the images' bytes (a quarter of the floats' memory);
     * a gather converts them: first rows of each set here, all rows against
     * repro_idx_read_images in test_data.c */
    CHECK(train.x == NULL && train.mapped.dtype == REPRO_NPY_U8 && train.mapped.row_bytes == 784);
    float row[784];
    const uint32_t first = 0;
    repro_dataset_gather(&train, &first, 1, row, NULL, NULL);
    CHECK(row[99] == 13.0f * s && row[100] == 73.0f * s && row[98] == 0.0f);
    CHECK(train.label[0] == 9 && train.label[999] == 8);
    repro_dataset_gather(&test, &first, 1, row, NULL, NULL);
    CHECK(row[215] == 3.0f * s && test.label[0] == 9 && test.label[999] == 7);
    repro_dataset_free(&train);
    repro_dataset_free(&test);
    return test_finish("test_data_fashion");
}
