/* Tests of the C API, compiled with the system C compiler and run by tests/c_cpp.rs.
 *
 * Usage: test_api MODEL CORRUPT_MODEL TRUNCATED_MODEL MISSING_PATH
 * Prints the results of a few computations ("name value...", %.17g, compared bit for bit with
 * the Rust API by the driver) and checks that every bad input gives its status and a message
 * naming the problem. Exits non-zero on any failed check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concord.h"

static int checks = 0, failures = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

/* The call must fail with `want` and a message containing `needle`. */
#define EXPECT_ERROR(call, want, needle)                                                     \
    do {                                                                                     \
        concord_status_t got_ = (call);                                                      \
        const char* msg_ = concord_last_error();                                             \
        CHECK(got_ == (want) && strstr(msg_, (needle)) != NULL,                              \
              "%s: status %d (want %d), message '%s' (want '%s')", #call, (int)got_,        \
              (int)(want), msg_, (needle));                                                  \
    } while (0)

#define EXPECT_OK(call)                                                                      \
    do {                                                                                     \
        concord_status_t got_ = (call);                                                      \
        CHECK(got_ == CONCORD_SUCCESS, "%s: status %d: %s", #call, (int)got_,               \
              concord_last_error());                                                         \
    } while (0)

/* Methane, Å. */
static const int32_t CH4_Z[5] = {6, 1, 1, 1, 1};
static const double CH4_X[15] = {0.0,    0.0,    0.0,   0.629,  0.629,  0.629, -0.629, -0.629,
                                 0.629,  -0.629, 0.629, -0.629, 0.629,  -0.629, -0.629};
/* Water. */
static const int32_t H2O_Z[3] = {8, 1, 1};
static const double H2O_X[9] = {0.0, 0.0, 0.117, 0.0, 0.757, -0.467, 0.0, -0.757, -0.467};

static void print_array(const char* name, const double* v, int n) {
    printf("%s", name);
    for (int i = 0; i < n; i++) printf(" %.17g", v[i]);
    printf("\n");
}

/* All pairs (both directions) closer than `cutoff` among n atoms: returns the count. */
static int full_pairs(const double* x, int n, double cutoff, int32_t* first, int32_t* second) {
    int p = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            double d2 = 0.0;
            for (int a = 0; a < 3; a++) d2 += pow(x[3 * j + a] - x[3 * i + a], 2);
            if (d2 < cutoff * cutoff) {
                first[p] = i;
                second[p] = j;
                p++;
            }
        }
    }
    return p;
}

int main(int argc, char** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODEL CORRUPT TRUNCATED MISSING\n", argv[0]);
        return 2;
    }
    const char* path = argv[1];

    /* Versions. */
    CHECK(strcmp(concord_version(), CONCORD_VERSION) == 0, "version %s vs header %s",
          concord_version(), CONCORD_VERSION);
    CHECK(concord_abi_version() == CONCORD_ABI_VERSION, "ABI %u", concord_abi_version());
    EXPECT_OK(concord_check_abi_version(CONCORD_ABI_VERSION));
    EXPECT_ERROR(concord_check_abi_version(CONCORD_ABI_VERSION + 1), CONCORD_ERROR_ABI_VERSION,
                 "ABI version");

    /* Loading. */
    concord_model_t* model = NULL;
    EXPECT_ERROR(concord_model_load(NULL, "cpu", 64, &model), CONCORD_ERROR_INVALID_ARGUMENT,
                 "'path' is NULL");
    EXPECT_ERROR(concord_model_load(path, "cpu", 64, NULL), CONCORD_ERROR_INVALID_ARGUMENT,
                 "'model' is NULL");
    EXPECT_ERROR(concord_model_load(path, "cpu", 16, &model), CONCORD_ERROR_INVALID_ARGUMENT,
                 "precision 16");
    EXPECT_ERROR(concord_model_load(path, "tpu", 64, &model), CONCORD_ERROR_INVALID_ARGUMENT,
                 "device 'tpu'");
    EXPECT_ERROR(concord_model_load(argv[4], "cpu", 64, &model), CONCORD_ERROR_IO, argv[4]);
    EXPECT_ERROR(concord_model_load(argv[2], "cpu", 64, &model), CONCORD_ERROR_MODEL_FILE,
                 "not a Concord model file");
    EXPECT_ERROR(concord_model_load(argv[3], "cpu", 64, &model), CONCORD_ERROR_MODEL_FILE,
                 "truncated");
    CHECK(model == NULL, "a failed load leaves NULL");
    EXPECT_OK(concord_model_load(path, NULL, 64, &model));
    CHECK(model != NULL, "loaded");
    if (model == NULL) return 1;
    EXPECT_OK(concord_model_free(NULL));

    /* Metadata. */
    size_t n_elements = 0;
    int32_t elements[8] = {0};
    EXPECT_OK(concord_model_elements(model, NULL, 0, &n_elements));
    CHECK(n_elements == 4, "n_elements %zu", n_elements);
    EXPECT_ERROR(concord_model_elements(model, elements, 2, &n_elements),
                 CONCORD_ERROR_BUFFER_SIZE, "holds 2 but 4 are needed");
    EXPECT_OK(concord_model_elements(model, elements, 8, &n_elements));
    CHECK(elements[0] == 1 && elements[1] == 6 && elements[2] == 7 && elements[3] == 8,
          "elements %d %d %d %d", elements[0], elements[1], elements[2], elements[3]);
    double cutoff = 0.0, field = 0.0;
    EXPECT_OK(concord_model_cutoff(model, &cutoff));
    EXPECT_OK(concord_model_receptive_field(model, &field));
    CHECK(cutoff == 4.0 && field == 8.0, "cutoff %g field %g", cutoff, field);
    EXPECT_ERROR(concord_model_cutoff(NULL, &cutoff), CONCORD_ERROR_INVALID_ARGUMENT,
                 "'model' is NULL");
    EXPECT_ERROR(concord_model_cutoff(model, NULL), CONCORD_ERROR_INVALID_ARGUMENT,
                 "'cutoff' is NULL");
    EXPECT_ERROR(concord_model_receptive_field(model, NULL), CONCORD_ERROR_INVALID_ARGUMENT,
                 "'receptive_field' is NULL");
    size_t json_size = 0;
    EXPECT_OK(concord_model_metadata_json(model, NULL, 0, &json_size));
    char small[8];
    EXPECT_ERROR(concord_model_metadata_json(model, small, sizeof small, &json_size),
                 CONCORD_ERROR_BUFFER_SIZE, "JSON");
    char* json = malloc(json_size);
    EXPECT_OK(concord_model_metadata_json(model, json, json_size, NULL));
    CHECK(strlen(json) + 1 == json_size && strstr(json, "\"format\":\"concord-model\""),
          "json %s", json);
    free(json);

    /* Computations (compared with the Rust API by the driver). */
    double energy, forces[15], atom_energies[5], virial[9], atom_virial[45];
    EXPECT_OK(concord_compute(model, 5, CH4_Z, CH4_X, NULL, NULL, &energy, forces,
                              atom_energies, virial, atom_virial));
    print_array("methane_energy", &energy, 1);
    print_array("methane_forces", forces, 15);
    print_array("methane_atom_energies", atom_energies, 5);
    print_array("methane_virial", virial, 9);
    print_array("methane_atom_virial", atom_virial, 45);
    double sum = 0.0;
    for (int i = 0; i < 5; i++) sum += atom_energies[i];
    CHECK(fabs(sum - energy) < 1e-9, "atomic energies sum to the energy");

    double energy_only;
    EXPECT_OK(concord_compute(model, 5, CH4_Z, CH4_X, NULL, NULL, &energy_only, NULL, NULL,
                              NULL, NULL));
    CHECK(energy_only == energy, "energy alone %.17g vs %.17g", energy_only, energy);

    const double cell[9] = {6.0, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0, 0.0, 6.0};
    const int32_t periodic[3] = {1, 1, 1};
    double water_energy, water_forces[9], water_virial[9];
    EXPECT_OK(concord_compute(model, 3, H2O_Z, H2O_X, cell, periodic, &water_energy,
                              water_forces, NULL, water_virial, NULL));
    print_array("water_periodic_energy", &water_energy, 1);
    print_array("water_periodic_forces", water_forces, 9);
    print_array("water_periodic_virial", water_virial, 9);
    double water_energy_default;
    EXPECT_OK(concord_compute(model, 3, H2O_Z, H2O_X, cell, NULL, &water_energy_default, NULL,
                              NULL, NULL, NULL));
    CHECK(water_energy_default == water_energy, "NULL periodic with a cell = fully periodic");

    /* Local + ghost: 3 local atoms of methane, 2 ghosts; searched and given pairs agree. */
    double local_energy, local_forces[15];
    EXPECT_OK(concord_compute_local(model, 3, 5, CH4_Z, CH4_X, 0, NULL, NULL, &local_energy,
                                    local_forces, NULL, NULL, NULL));
    print_array("local_energy", &local_energy, 1);
    print_array("local_forces", local_forces, 15);
    int32_t first[20], second[20];
    int n_pairs = full_pairs(CH4_X, 5, cutoff, first, second);
    CHECK(n_pairs == 20, "methane has 20 directed pairs within the cutoff, got %d", n_pairs);
    double pairs_energy, pairs_forces[15];
    EXPECT_OK(concord_compute_local(model, 3, 5, CH4_Z, CH4_X, n_pairs, first, second,
                                    &pairs_energy, pairs_forces, NULL, NULL, NULL));
    print_array("local_pairs_energy", &pairs_energy, 1);
    print_array("local_pairs_forces", pairs_forces, 15);
    double all_local_energy;
    EXPECT_OK(concord_compute_local(model, 5, 5, CH4_Z, CH4_X, 0, NULL, NULL, &all_local_energy,
                                    NULL, NULL, NULL, NULL));
    CHECK(fabs(all_local_energy - energy) < 1e-9, "all local = whole system");

    /* Bad input to concord_compute: specific status, message naming the problem, outputs
     * untouched. */
    double sentinel = 12345.0;
    double bad_x[15];
    memcpy(bad_x, CH4_X, sizeof bad_x);
    EXPECT_ERROR(concord_compute(NULL, 5, CH4_Z, CH4_X, NULL, NULL, &sentinel, NULL, NULL, NULL,
                                 NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'model' is NULL");
    EXPECT_ERROR(concord_compute(model, 5, NULL, CH4_X, NULL, NULL, &sentinel, NULL, NULL, NULL,
                                 NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'atomic_numbers' is NULL");
    EXPECT_ERROR(concord_compute(model, 5, CH4_Z, NULL, NULL, NULL, &sentinel, NULL, NULL, NULL,
                                 NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'positions' is NULL");
    EXPECT_ERROR(concord_compute(model, 0, CH4_Z, CH4_X, NULL, NULL, &sentinel, NULL, NULL, NULL,
                                 NULL),
                 CONCORD_ERROR_INVALID_INPUT, "n_atoms = 0: empty system");
    EXPECT_ERROR(concord_compute(model, -1, CH4_Z, CH4_X, NULL, NULL, &sentinel, NULL, NULL,
                                 NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "n_atoms = -1 is negative");
    EXPECT_ERROR(concord_compute(model, 1000000000000LL, CH4_Z, CH4_X, NULL, NULL, &sentinel,
                                 NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "n_atoms = 1000000000000 exceeds the limit");
    bad_x[4] = NAN;
    EXPECT_ERROR(concord_compute(model, 5, CH4_Z, bad_x, NULL, NULL, &sentinel, forces, NULL,
                                 NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "non-finite coordinate (NaN or inf) on atom 1");
    bad_x[4] = INFINITY;
    EXPECT_ERROR(concord_compute(model, 5, CH4_Z, bad_x, NULL, NULL, &sentinel, forces, NULL,
                                 NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "non-finite coordinate (NaN or inf) on atom 1");
    memcpy(bad_x, CH4_X, sizeof bad_x);
    bad_x[6] = bad_x[3] + 0.1; /* atom 2 onto atom 1 */
    bad_x[7] = bad_x[4];
    bad_x[8] = bad_x[5];
    EXPECT_ERROR(concord_compute(model, 5, CH4_Z, bad_x, NULL, NULL, &sentinel, forces, NULL,
                                 NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "overlap");
    const int32_t sulfur[5] = {16, 1, 1, 1, 1};
    EXPECT_ERROR(concord_compute(model, 5, sulfur, CH4_X, NULL, NULL, &sentinel, NULL, NULL, NULL,
                                 NULL),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "S (atom 0) is not among the model's elements H C N O");
    const int32_t not_elements[5] = {6, 1, 300, 1, 1};
    EXPECT_ERROR(concord_compute(model, 5, not_elements, CH4_X, NULL, NULL, &sentinel, NULL,
                                 NULL, NULL, NULL),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "atomic number 300 (atom 2) is not an element");
    const int32_t negative_z[5] = {6, 1, 1, -1, 1};
    EXPECT_ERROR(concord_compute(model, 5, negative_z, CH4_X, NULL, NULL, &sentinel, NULL, NULL,
                                 NULL, NULL),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "atomic number -1 (atom 3)");
    EXPECT_ERROR(concord_compute(model, 5, CH4_Z, CH4_X, NULL, periodic, &sentinel, NULL, NULL,
                                 NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "periodic boundary conditions without a cell");
    const double flat_cell[9] = {6.0, 0.0, 0.0, 0.0, 6.0, 0.0, 6.0, 6.0, 0.0};
    EXPECT_ERROR(concord_compute(model, 5, CH4_Z, CH4_X, flat_cell, NULL, &sentinel, NULL, NULL,
                                 NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "degenerate cell");
    const double nan_cell[9] = {6.0, 0.0, 0.0, 0.0, NAN, 0.0, 0.0, 0.0, 6.0};
    EXPECT_ERROR(concord_compute(model, 5, CH4_Z, CH4_X, nan_cell, NULL, &sentinel, NULL, NULL,
                                 NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "non-finite cell");
    CHECK(sentinel == 12345.0, "a failed call must not write outputs");

    /* Bad input to concord_compute_local. */
    EXPECT_ERROR(concord_compute_local(NULL, 3, 5, CH4_Z, CH4_X, 0, NULL, NULL, &sentinel, NULL,
                                       NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'model' is NULL");
    EXPECT_ERROR(concord_compute_local(model, 3, 5, CH4_Z, NULL, 0, NULL, NULL, &sentinel, NULL,
                                       NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'positions' is NULL");
    EXPECT_ERROR(concord_compute_local(model, 0, 0, CH4_Z, CH4_X, 0, NULL, NULL, &sentinel, NULL,
                                       NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "n_total = 0: empty system");
    EXPECT_ERROR(concord_compute_local(model, 6, 5, CH4_Z, CH4_X, 0, NULL, NULL, &sentinel, NULL,
                                       NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "n_local = 6 exceeds n_total = 5");
    EXPECT_ERROR(concord_compute_local(model, -2, 5, CH4_Z, CH4_X, 0, NULL, NULL, &sentinel,
                                       NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "n_local = -2 is negative");
    EXPECT_ERROR(concord_compute_local(model, 3, 2000000000, CH4_Z, CH4_X, 0, NULL, NULL,
                                       &sentinel, NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "n_total = 2000000000 exceeds the limit");
    EXPECT_ERROR(concord_compute_local(model, 3, 5, CH4_Z, CH4_X, -4, first, second, &sentinel,
                                       NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "n_pairs = -4 is negative");
    EXPECT_ERROR(concord_compute_local(model, 3, 5, CH4_Z, CH4_X, n_pairs, first, NULL,
                                       &sentinel, NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "'pair_second' is NULL but 'pair_first' is not");
    EXPECT_ERROR(concord_compute_local(model, 3, 5, CH4_Z, CH4_X, n_pairs, NULL, second,
                                       &sentinel, NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "'pair_first' is NULL but 'pair_second' is not");
    EXPECT_ERROR(concord_compute_local(model, 3, 5, CH4_Z, CH4_X, 7, NULL, NULL, &sentinel,
                                       NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "n_pairs = 7 but 'pair_first' and 'pair_second'");
    int32_t bad_first[20];
    memcpy(bad_first, first, sizeof bad_first);
    bad_first[7] = 5;
    EXPECT_ERROR(concord_compute_local(model, 3, 5, CH4_Z, CH4_X, n_pairs, bad_first, second,
                                       &sentinel, NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "pair_first[7] = 5 is out of range for 5 atoms");
    bad_first[7] = -1;
    EXPECT_ERROR(concord_compute_local(model, 3, 5, CH4_Z, CH4_X, n_pairs, bad_first, second,
                                       &sentinel, NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "pair_first[7] = -1 is out of range");
    EXPECT_ERROR(concord_compute_local(model, 3, 5, CH4_Z, bad_x, 0, NULL, NULL, &sentinel, NULL,
                                       NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "overlap");
    EXPECT_ERROR(concord_compute_local(model, 3, 5, sulfur, CH4_X, 0, NULL, NULL, &sentinel, NULL,
                                       NULL, NULL, NULL),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "S (atom 0)");
    CHECK(sentinel == 12345.0, "a failed call must not write outputs");

    EXPECT_OK(concord_model_free(model));
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
