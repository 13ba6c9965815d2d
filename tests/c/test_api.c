/* Tests of the C API, compiled with the system C compiler and run by tests/c_cpp.rs.
 *
 * Usage: test_api MODEL CORRUPT_MODEL TRUNCATED_MODEL MISSING_PATH GENERATOR_MODEL
 * (MODEL has no structure generator, GENERATOR_MODEL has one).
 * Prints the results of a few computations, optimisations and generations ("name value...", %.17g, compared bit for bit with
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

/* Methane's bonds: C-H x 4. */
static const int32_t CH4_FIRST[4] = {0, 0, 0, 0};
static const int32_t CH4_SECOND[4] = {1, 2, 3, 4};
static const int32_t CH4_ORDER[4] = {1, 1, 1, 1};

/* An exchange for atoms that are all local (nothing to copy): counts its calls by direction
 * and checks the row shape; `user_data` points to int[4]: forward calls, reverse calls, the
 * expected width, the status to return. */
static int32_t count_exchanges(void* user_data, int32_t direction, int64_t n_rows, int64_t width,
                               double* rows) {
    int* state = (int*)user_data;
    CHECK(n_rows == 5 && width == state[2] && rows != NULL, "exchange rows %lld x %lld",
          (long long)n_rows, (long long)width);
    state[direction == CONCORD_EXCHANGE_FORWARD ? 0 : 1]++;
    return state[3];
}

/* The fields of optimisation results, as doubles: status, converged, steps, force_calls,
 * energy, initial_energy, max_force. */
static void print_results(const char* name, const concord_optimize_result_t* r, int n) {
    printf("%s", name);
    for (int i = 0; i < n; i++) {
        printf(" %d %d %lld %lld %.17g %.17g %.17g", (int)r[i].status, (int)r[i].converged,
               (long long)r[i].steps, (long long)r[i].force_calls, r[i].energy,
               r[i].initial_energy, r[i].max_force);
    }
    printf("\n");
}

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

/* concord_optimize (with the potential-only model): results printed for the driver, every bad
 * input with its status and message, nothing written on failure. */
static void test_optimize(concord_model_t* model) {
    concord_optimize_options_t defaults = concord_optimize_options_default();
    CHECK(defaults.fmax == 0.01 && defaults.max_steps == 500 && defaults.max_step == 0.2 &&
              defaults.method == CONCORD_OPTIMIZE_LBFGS && defaults.memory == 20,
          "default options");
    const concord_optimize_options_t generated = concord_generate_relax_options_default();
    CHECK(generated.fmax == 0.05 && generated.max_steps == 500 && generated.max_step == 0.2 &&
              generated.method == CONCORD_OPTIMIZE_LBFGS_PRECON && generated.memory == 20,
          "default options of generated structures");
    concord_optimize_options_t options = defaults;
    options.max_steps = 10;
    double x[15];
    memcpy(x, CH4_X, sizeof x);
    concord_optimize_result_t result;
    EXPECT_OK(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result));
    print_array("optimize_methane_positions", x, 15);
    print_results("optimize_methane_result", &result, 1);
    CHECK(result.status == CONCORD_SUCCESS && result.steps <= 10 && result.force_calls >= 1,
          "result fields");
    /* Preconditioned L-BFGS. */
    options.method = CONCORD_OPTIMIZE_LBFGS_PRECON;
    memcpy(x, CH4_X, sizeof x);
    EXPECT_OK(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result));
    print_array("optimize_precon_methane_positions", x, 15);
    CHECK(result.status == CONCORD_SUCCESS && result.steps <= 10 && result.force_calls >= 1,
          "preconditioned result fields");
    /* FIRE, and a NULL result. */
    options.method = CONCORD_OPTIMIZE_FIRE;
    memcpy(x, CH4_X, sizeof x);
    EXPECT_OK(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result));
    print_array("optimize_fire_methane_positions", x, 15);
    memcpy(x, CH4_X, sizeof x);
    EXPECT_OK(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, NULL));
    /* max_steps = 0 only evaluates the start: not converged (random forces), not an error. */
    options = defaults;
    options.max_steps = 0;
    memcpy(x, CH4_X, sizeof x);
    EXPECT_OK(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result));
    CHECK(memcmp(x, CH4_X, sizeof x) == 0 && result.steps == 0 && result.force_calls == 1 &&
              result.converged == 0 && result.energy == result.initial_energy,
          "max_steps = 0: steps %lld, force calls %lld, converged %d", (long long)result.steps,
          (long long)result.force_calls, (int)result.converged);
    /* Periodic water with default options (NULL), fixed cell. */
    const double cell[9] = {6.0, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0, 0.0, 6.0};
    double w[9];
    memcpy(w, H2O_X, sizeof w);
    options = defaults;
    options.max_steps = 10;
    EXPECT_OK(concord_optimize(model, 3, H2O_Z, w, cell, NULL, &options, &result));
    print_array("optimize_water_periodic_positions", w, 9);
    print_results("optimize_water_periodic_result", &result, 1);

    /* Bad input: status, message, positions and result untouched. */
    memcpy(x, CH4_X, sizeof x);
    concord_optimize_result_t untouched;
    memset(&untouched, 0x5a, sizeof untouched);
    result = untouched;
    EXPECT_ERROR(concord_optimize(NULL, 5, CH4_Z, x, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT, "concord_optimize: argument 'model' is NULL");
    EXPECT_ERROR(concord_optimize(model, 5, NULL, x, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'atomic_numbers' is NULL");
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, NULL, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'positions' is NULL");
    EXPECT_ERROR(concord_optimize(model, 0, CH4_Z, x, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_INVALID_INPUT, "n_atoms = 0: empty system");
    EXPECT_ERROR(concord_optimize(model, -5, CH4_Z, x, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_INVALID_INPUT, "n_atoms = -5 is negative");
    EXPECT_ERROR(concord_optimize(model, 1LL << 40, CH4_Z, x, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_INVALID_INPUT, "n_atoms = 1099511627776 exceeds the limit");
    double bad_x[15];
    memcpy(bad_x, CH4_X, sizeof bad_x);
    bad_x[5] = NAN;
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, bad_x, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_INVALID_INPUT, "non-finite coordinate (NaN or inf) on atom 1");
    memcpy(bad_x, CH4_X, sizeof bad_x);
    bad_x[3] = 0.1, bad_x[4] = 0.0, bad_x[5] = 0.0;
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, bad_x, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_OVERLAP, "atoms 0 and 1 overlap");
    CHECK(bad_x[3] == 0.1, "positions untouched on failure");
    const int32_t sulfur[5] = {16, 1, 1, 1, 1};
    EXPECT_ERROR(concord_optimize(model, 5, sulfur, x, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "S (atom 0) is not among the model's elements");
    const int32_t not_element[5] = {6, 1, 1, 1, 999};
    EXPECT_ERROR(concord_optimize(model, 5, not_element, x, NULL, NULL, NULL, &result),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "atomic number 999 (atom 4) is not an element");
    const int32_t periodic[3] = {1, 0, 0};
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, x, NULL, periodic, NULL, &result),
                 CONCORD_ERROR_INVALID_INPUT, "periodic boundary conditions without a cell");
    const double flat_cell[9] = {6.0, 0.0, 0.0, 0.0, 6.0, 0.0, 6.0, 6.0, 0.0};
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, x, flat_cell, NULL, NULL, &result),
                 CONCORD_ERROR_INVALID_INPUT, "degenerate cell");
    options = defaults;
    options.fmax = 0.0;
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT, "options->fmax = 0 must be positive and finite");
    options.fmax = NAN;
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT, "options->fmax = NaN");
    options = defaults;
    options.max_step = -0.1;
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT, "options->max_step = -0.1 must be positive");
    options.max_step = INFINITY;
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT, "options->max_step = inf");
    options = defaults;
    options.max_steps = -1;
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT, "options->max_steps = -1 is negative");
    options = defaults;
    options.method = 7;
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT,
                 "options->method = 7 is none of CONCORD_OPTIMIZE_LBFGS (0), "
                 "CONCORD_OPTIMIZE_LBFGS_PRECON (2) and CONCORD_OPTIMIZE_FIRE (1)");
    options = defaults;
    options.memory = 0;
    EXPECT_ERROR(concord_optimize(model, 5, CH4_Z, x, NULL, NULL, &options, &result),
                 CONCORD_ERROR_INVALID_ARGUMENT, "options->memory = 0 must be at least 1");
    CHECK(memcmp(x, CH4_X, sizeof x) == 0, "positions untouched on failure");
    CHECK(memcmp(&result, &untouched, sizeof result) == 0, "result untouched on failure");
}

/* The pipeline's methane samples (`got`, [k][5][3]) against `concord_generate`'s draws of the
   same seed (`raw`): a sane draw is kept as drawn; a broken one may be redrawn (the pipeline's
   redraw rounds), and then must have no more sanity problems than the draw it replaced. */
static int same_unless_redrawn(const double* raw, const double* got, int k) {
    for (int s = 0; s < k; s++) {
        int64_t raw_problems = -1, got_problems = -1;
        if (concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, &raw[15 * s],
                                    &raw_problems, NULL, 0) != CONCORD_SUCCESS ||
            concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, &got[15 * s],
                                    &got_problems, NULL, 0) != CONCORD_SUCCESS)
            return 0;
        int same = memcmp(&raw[15 * s], &got[15 * s], 15 * sizeof(double)) == 0;
        if (raw_problems == 0 ? !same : got_problems > raw_problems) return 0;
    }
    return 1;
}

/* concord_generate / concord_generate_optimize: "no generator", results printed for the
 * driver, every bad input with its status and message, nothing written on failure. */
static void test_generate(concord_model_t* plain, concord_model_t* model) {
    int32_t has = -1;
    EXPECT_OK(concord_model_has_generator(plain, &has));
    CHECK(has == 0, "the potential-only model has no generator (%d)", has);
    EXPECT_OK(concord_model_has_generator(model, &has));
    CHECK(has == 1, "the generator model has one (%d)", has);
    EXPECT_ERROR(concord_model_has_generator(NULL, &has), CONCORD_ERROR_INVALID_ARGUMENT,
                 "'model' is NULL");
    EXPECT_ERROR(concord_model_has_generator(model, NULL), CONCORD_ERROR_INVALID_ARGUMENT,
                 "'has_generator' is NULL");

    double x[2 * 15];
    for (int i = 0; i < 30; i++) x[i] = 12345.0;
    concord_optimize_result_t results[2];
    memset(results, 0x5a, sizeof results);
    const concord_optimize_result_t untouched = results[0];
    EXPECT_ERROR(concord_generate(plain, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 7, 8,
                                  0.0, x),
                 CONCORD_ERROR_UNSUPPORTED,
                 "concord_generate: this model has no structure generator");
    EXPECT_ERROR(concord_generate_optimize(plain, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER,
                                           2, 7, 8, 0.0, NULL, x, results),
                 CONCORD_ERROR_UNSUPPORTED,
                 "concord_generate_optimize: this model has no structure generator");

    /* Bad input. */
#define GEN(n, z, nb, f, s, o, k, steps, churn, out) \
    concord_generate(model, n, z, nb, f, s, o, k, 7, steps, churn, out)
    EXPECT_ERROR(concord_generate(NULL, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 7, 8,
                                  0.0, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'model' is NULL");
    EXPECT_ERROR(GEN(0, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "n_atoms = 0: empty system");
    EXPECT_ERROR(GEN(-3, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "n_atoms = -3 is negative");
    EXPECT_ERROR(GEN(1LL << 40, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "n_atoms = 1099511627776 exceeds the limit");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 0, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "n_samples = 0: ask for at least one structure");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, -1, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "n_samples = -1 is negative");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 50000000, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT,
                 "n_samples x n_atoms = 50000000 x 5 exceeds the limit of 100000000 atoms");
    EXPECT_ERROR(GEN(5, CH4_Z, -1, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "n_bonds = -1 is negative");
    EXPECT_ERROR(GEN(5, CH4_Z, 11, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "n_bonds = 11 exceeds the 10 distinct pairs of 5 atoms");
    EXPECT_ERROR(GEN(5, NULL, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'atomic_numbers' is NULL");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'positions' is NULL");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, NULL, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'bond_first' is NULL");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, NULL, CH4_ORDER, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'bond_second' is NULL");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, NULL, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'bond_order' is NULL");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, -1, 0.0, x),
                 CONCORD_ERROR_INVALID_ARGUMENT,
                 "steps = -1 is out of range: 0 (the generator's default) or 2 to 10000");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 1, 0.0, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "steps = 1 is out of range");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 10001, 0.0, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "steps = 10001 is out of range");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, -0.5, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "churn = -0.5 must be finite and >= 0");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, NAN, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "churn = NaN");
    EXPECT_ERROR(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, INFINITY, x),
                 CONCORD_ERROR_INVALID_ARGUMENT, "churn = inf");
    int32_t first[4], second[4], order[4];
#define RESET_BONDS()                           \
    memcpy(first, CH4_FIRST, sizeof first);     \
    memcpy(second, CH4_SECOND, sizeof second);  \
    memcpy(order, CH4_ORDER, sizeof order)
    RESET_BONDS();
    first[2] = 5;
    EXPECT_ERROR(GEN(5, CH4_Z, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "bond_first[2] = 5 is out of range for 5 atoms");
    RESET_BONDS();
    second[0] = -1;
    EXPECT_ERROR(GEN(5, CH4_Z, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "bond_second[0] = -1 is out of range for 5 atoms");
    RESET_BONDS();
    order[1] = 5;
    EXPECT_ERROR(GEN(5, CH4_Z, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "bond_order[1] = 5 is not 1, 2, 3 or 4 (aromatic)");
    order[1] = 0;
    EXPECT_ERROR(GEN(5, CH4_Z, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "bond_order[1] = 0 is not 1, 2, 3 or 4");
    RESET_BONDS();
    first[3] = 4; /* 4-4 */
    EXPECT_ERROR(GEN(5, CH4_Z, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "atom 4 is bonded to itself");
    RESET_BONDS();
    first[3] = 3, second[3] = 0; /* 3-0 repeats 0-3 */
    EXPECT_ERROR(GEN(5, CH4_Z, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "bond 3-0 is listed twice");
    RESET_BONDS();
    EXPECT_ERROR(GEN(5, CH4_Z, 3, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT,
                 "atom 4 (H) has no bonds: a disconnected atom cannot be placed");
    RESET_BONDS();
    first[3] = 1; /* 1-4: H 1 with two bonds */
    EXPECT_ERROR(GEN(5, CH4_Z, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "atom 1 (H) has valence 2 > 1");
    RESET_BONDS();
    order[0] = 2, order[1] = 2; /* C with valence 6 */
    EXPECT_ERROR(GEN(5, CH4_Z, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_INVALID_INPUT, "atom 0 (C) has valence");
    RESET_BONDS();
    const int32_t silicon[5] = {14, 1, 1, 1, 1};
    EXPECT_ERROR(GEN(5, silicon, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "Si (atom 0) is not among the model's elements H C N O F");
    const int32_t not_element[5] = {6, 1, 1, 1, 200};
    EXPECT_ERROR(GEN(5, not_element, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "atomic number 200 (atom 4)");
    const int32_t negative_z[5] = {6, -1, 1, 1, 1};
    EXPECT_ERROR(GEN(5, negative_z, 4, first, second, order, 2, 8, 0.0, x),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "atomic number -1 (atom 1) is not an element");
    concord_optimize_options_t options = concord_optimize_options_default();
    options.fmax = -1.0;
    EXPECT_ERROR(concord_generate_optimize(model, 5, CH4_Z, 4, first, second, order, 2, 7, 8, 0.0,
                                           &options, x, results),
                 CONCORD_ERROR_INVALID_ARGUMENT, "options->fmax = -1 must be positive");
    EXPECT_ERROR(concord_generate_optimize(model, 5, CH4_Z, 4, first, NULL, order, 2, 7, 8, 0.0,
                                           NULL, x, results),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'bond_second' is NULL");
    EXPECT_ERROR(concord_generate_optimize(model, 5, CH4_Z, 4, first, second, order, 2, 7, 8, 0.0,
                                           NULL, NULL, results),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'positions' is NULL");
    int untouched_x = 1;
    for (int i = 0; i < 30; i++) untouched_x &= x[i] == 12345.0;
    CHECK(untouched_x, "positions untouched on failure");
    CHECK(memcmp(&results[0], &untouched, sizeof untouched) == 0, "results untouched on failure");

    /* Generation (compared with the Rust API by the driver): the same seed gives the same
     * structures, centred; a single atom needs no bonds. */
    EXPECT_OK(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, x));
    print_array("generate_methane", x, 30);
    double again[30];
    EXPECT_OK(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, again));
    CHECK(memcmp(x, again, sizeof x) == 0, "same seed, same structures");
    /* The generator's default churn: this model's file records none, so deterministic. */
    EXPECT_OK(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, CONCORD_DEFAULT_CHURN, again));
    CHECK(memcmp(x, again, sizeof x) == 0, "default churn of a file that records none = 0");
    for (int k = 0; k < 2; k++) {
        for (int a = 0; a < 3; a++) {
            double c = 0.0;
            for (int i = 0; i < 5; i++) c += x[15 * k + 3 * i + a] / 5.0;
            CHECK(fabs(c) < 1e-6, "sample %d centred (%g)", k, c);
        }
    }
    EXPECT_OK(concord_generate(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0, 1.0,
                               again));
    CHECK(memcmp(x, again, sizeof x) != 0, "another seed and churn, other structures");
    const int32_t single_atom[1] = {8};
    double single[3];
    /* A lone atom is not a closed-shell molecule (a radical): refused. */
    EXPECT_ERROR(concord_generate(model, 1, single_atom, 0, NULL, NULL, NULL, 1, 1, 0, 0.0, single),
                 CONCORD_ERROR_INVALID_INPUT, "atom 0 (O) has valence 0 < 2: a radical");

    /* Generate then optimise (compared with the Rust API by the driver). */
    options = concord_optimize_options_default();
    options.max_steps = 10;
    EXPECT_OK(concord_generate_optimize(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2,
                                        7, 8, 0.0, &options, x, results));
    print_array("generate_optimize_methane_positions", x, 30);
    print_results("generate_optimize_methane_results", results, 2);
    EXPECT_OK(concord_generate_optimize(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2,
                                        7, 8, 0.0, &options, again, NULL));
    CHECK(memcmp(x, again, sizeof x) == 0, "NULL results: same positions");
    /* NULL options: the defaults of generated structures' relaxation. */
    {
        concord_optimize_options_t g = concord_generate_relax_options_default();
        double with_null[30], with_defaults[30];
        EXPECT_OK(concord_generate_optimize(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER,
                                            2, 7, 8, 0.0, NULL, with_null, NULL));
        EXPECT_OK(concord_generate_optimize(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER,
                                            2, 7, 8, 0.0, &g, with_defaults, NULL));
        CHECK(memcmp(with_null, with_defaults, sizeof with_null) == 0,
              "NULL options: concord_generate_relax_options_default()");
    }

    /* The whole pipeline: the same samples as generate_optimize, screened and ranked. */
    concord_sample_t samples[2];
    EXPECT_OK(concord_generate_structures(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2,
                                          7, 8, 0.0, 1, &options, again, samples));
    CHECK(memcmp(x, again, sizeof x) == 0, "pipeline: the positions of generate_optimize");
    CHECK(samples[0].rank + samples[1].rank == 1 && samples[0].rank != samples[1].rank,
          "ranks 0 and 1");
    for (int k = 0; k < 2; k++) {
        CHECK(samples[k].relaxed == (results[k].status == CONCORD_SUCCESS), "sample %d relaxed", k);
        CHECK(samples[k].relax_status == results[k].status, "sample %d relax status", k);
        if (samples[k].relaxed) {
            CHECK(samples[k].energy == results[k].energy && samples[k].steps == results[k].steps,
                  "sample %d: the relaxation's energy and steps", k);
        }
        int64_t n_problems = -1;
        EXPECT_OK(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER,
                                          &again[15 * k], &n_problems, NULL, 0));
        CHECK(samples[k].n_problems == n_problems && samples[k].sane == (n_problems == 0) &&
                  (samples[k].sane == (samples[k].problem[0] == '\0')),
              "sample %d: the structure check's verdict", k);
    }
    const int best = samples[0].rank == 0 ? 0 : 1, other = 1 - best;
    CHECK(samples[best].sane >= samples[other].sane, "rank 0 is sane when any sample is");
    if (samples[best].sane == samples[other].sane)
        CHECK(samples[best].energy <= samples[other].energy, "then the lower energy");
    double raw[30];
    EXPECT_OK(GEN(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2, 8, 0.0, raw));
    EXPECT_OK(concord_generate_structures(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2,
                                          7, 8, 0.0, 0, NULL, again, samples));
    CHECK(same_unless_redrawn(raw, again, 2), "no relaxation: the positions of generate");
    CHECK(!samples[0].relaxed && samples[0].steps == 0 && isfinite(samples[0].energy),
          "no relaxation: unrelaxed, with the energy of the raw sample");
    EXPECT_ERROR(concord_generate_structures(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER,
                                             2, 7, 8, 0.0, 2, NULL, again, samples),
                 CONCORD_ERROR_INVALID_ARGUMENT, "relax = 2 must be 0 or 1");
    EXPECT_ERROR(concord_generate_structures(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER,
                                             2, 7, 8, 0.0, 1, NULL, again, NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'samples' is NULL");
    EXPECT_ERROR(concord_generate_structures(plain, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER,
                                             2, 7, 8, 0.0, 0, NULL, again, samples),
                 CONCORD_ERROR_UNSUPPORTED, "no structure generator");

    /* Another model relaxes and ranks: the generator's samples, the potential's energies. */
    EXPECT_OK(concord_generate_structures_with_potential(model, plain, 5, CH4_Z, 4, CH4_FIRST,
                                                         CH4_SECOND, CH4_ORDER, 2, 7, 8, 0.0, 0,
                                                         NULL, again, samples));
    CHECK(same_unless_redrawn(raw, again, 2), "with a potential: the generator's samples");
    for (int k = 0; k < 2; k++) {
        double e_plain = NAN, e_model = NAN;
        EXPECT_OK(concord_compute(plain, 5, CH4_Z, &again[15 * k], NULL, NULL, &e_plain, NULL,
                                  NULL, NULL, NULL));
        EXPECT_OK(concord_compute(model, 5, CH4_Z, &again[15 * k], NULL, NULL, &e_model, NULL,
                                  NULL, NULL, NULL));
        CHECK(samples[k].energy == e_plain && e_plain != e_model,
              "sample %d: the potential's energy, not the generator model's", k);
    }
    options = concord_optimize_options_default();
    options.max_steps = 10;
    EXPECT_OK(concord_generate_structures_with_potential(model, plain, 5, CH4_Z, 4, CH4_FIRST,
                                                         CH4_SECOND, CH4_ORDER, 2, 7, 8, 0.0, 1,
                                                         &options, again, samples));
    for (int k = 0; k < 2; k++) {
        concord_optimize_result_t direct;
        int64_t n_raw_problems = -1;
        EXPECT_OK(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER,
                                          &raw[15 * k], &n_raw_problems, NULL, 0));
        memcpy(x, &raw[15 * k], sizeof(double) * 15);
        EXPECT_OK(concord_optimize(plain, 5, CH4_Z, x, NULL, NULL, &options, &direct));
        if (n_raw_problems == 0) {
            CHECK(memcmp(x, &again[15 * k], sizeof(double) * 15) == 0 &&
                      samples[k].energy == direct.energy && samples[k].steps == direct.steps,
                  "sample %d: sane, relaxed on the potential as concord_optimize relaxes it", k);
        } else {
            /* Broken: relaxed under a restraint toward the graph first, then on the potential. */
            double e_at = NAN;
            EXPECT_OK(concord_compute(plain, 5, CH4_Z, &again[15 * k], NULL, NULL, &e_at, NULL,
                                      NULL, NULL, NULL));
            CHECK(samples[k].relaxed && samples[k].steps > 0 && samples[k].energy == e_at,
                  "sample %d: broken, relaxed, with the potential's energy at its positions", k);
        }
    }
    double same[30];
    concord_sample_t same_samples[2];
    EXPECT_OK(concord_generate_structures(model, 5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, 2,
                                          7, 8, 0.0, 1, &options, again, samples));
    EXPECT_OK(concord_generate_structures_with_potential(model, NULL, 5, CH4_Z, 4, CH4_FIRST,
                                                         CH4_SECOND, CH4_ORDER, 2, 7, 8, 0.0, 1,
                                                         &options, same, same_samples));
    CHECK(memcmp(same, again, sizeof same) == 0 && same_samples[0].energy == samples[0].energy,
          "a NULL potential: the generator model relaxes");
    const int32_t HF_Z[2] = {9, 1}, HF_FIRST[1] = {0}, HF_SECOND[1] = {1}, HF_ORDER[1] = {1};
    size_t n_elements = 0;
    int32_t elements[16];
    EXPECT_OK(concord_model_elements(plain, elements, 16, &n_elements));
    int plain_knows_f = 0;
    for (size_t e = 0; e < n_elements && e < 16; e++) plain_knows_f |= elements[e] == 9;
    if (!plain_knows_f) {
        EXPECT_ERROR(concord_generate_structures_with_potential(
                         model, plain, 2, HF_Z, 1, HF_FIRST, HF_SECOND, HF_ORDER, 1, 7, 8, 0.0, 0,
                         NULL, same, same_samples),
                     CONCORD_ERROR_UNKNOWN_ELEMENT, "F");
    }
    EXPECT_ERROR(concord_generate_structures_with_potential(NULL, plain, 5, CH4_Z, 4, CH4_FIRST,
                                                            CH4_SECOND, CH4_ORDER, 2, 7, 8, 0.0,
                                                            0, NULL, again, samples),
                 CONCORD_ERROR_INVALID_ARGUMENT, "NULL");
#undef GEN
#undef RESET_BONDS
}

/* Signed volume (x_a - x_f) . ((x_b - x_f) x (x_c - x_f)) of atoms f, a, b, c of structure x. */
static double signed_volume(const double* x, int f, int a, int b, int c) {
    double u[3], v[3], w[3];
    for (int d = 0; d < 3; d++) {
        u[d] = x[3 * a + d] - x[3 * f + d];
        v[d] = x[3 * b + d] - x[3 * f + d];
        w[d] = x[3 * c + d] - x[3 * f + d];
    }
    return u[0] * (v[1] * w[2] - v[2] * w[1]) - u[1] * (v[0] * w[2] - v[2] * w[0]) +
           u[2] * (v[0] * w[1] - v[1] * w[0]);
}

/* Specified stereo (`model` may be untrained): a single centre comes out right in every sample
 * (a wrong one is mirrored), a sample with the double bond wrong is not called sane, both
 * configurations are asked for, and entries that do not fit the graph are refused by name. */
static void test_generate_stereo(concord_model_t* model) {
    /* 1-fluoroethanol, centre 0 bonded to C1, O2, F3, H4. */
    const int32_t z[9] = {6, 6, 8, 9, 1, 1, 1, 1, 1};
    const int32_t first[8] = {0, 0, 0, 0, 1, 1, 1, 2}, second[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int32_t order[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    double x[4 * 27];
    concord_sample_t s[4];
    for (int anticlockwise = 0; anticlockwise < 2; anticlockwise++) {
        concord_stereocentre_t c = {0, {1, 2, 3, 4}, anticlockwise};
        EXPECT_OK(concord_generate_structures_stereo(model, NULL, 9, z, NULL, 8, first, second, order, 1,
                                                     &c, 0, NULL, 4, 3, 8, 0.0, 0, NULL, x, s));
        for (int k = 0; k < 4; k++) {
            double v = signed_volume(&x[27 * k], 1, 2, 3, 4);
            CHECK(anticlockwise ? v < 0 : v > 0, "centre %s: sample %d has volume %g",
                  anticlockwise ? "@" : "@@", k, v);
        }
    }
    /* 1,2-difluoroethene, C0=C1 with F2 on C0 and F3 on C1. */
    const int32_t ez[6] = {6, 6, 9, 9, 1, 1};
    const int32_t efirst[5] = {0, 0, 1, 0, 1}, esecond[5] = {1, 2, 3, 4, 5};
    const int32_t eorder[5] = {2, 1, 1, 1, 1};
    for (int cis = 0; cis < 2; cis++) {
        concord_double_bond_t d = {{0, 1}, {2, 3}, cis};
        EXPECT_OK(concord_generate_structures_stereo(model, NULL, 6, ez, NULL, 5, efirst, esecond, eorder,
                                                     0, NULL, 1, &d, 4, 5, 8, 0.0, 0, NULL, x, s));
        for (int k = 0; k < 4; k++) {
            /* cis: the fluorines' offsets from the C=C axis point the same way. */
            const double* p = &x[18 * k];
            double a[3], u[3], w[3], au = 0, aw = 0, aa = 0, uw = 0;
            for (int e = 0; e < 3; e++) {
                a[e] = p[3 + e] - p[e];
                u[e] = p[6 + e] - p[e];
                w[e] = p[9 + e] - p[3 + e];
                au += a[e] * u[e];
                aw += a[e] * w[e];
                aa += a[e] * a[e];
            }
            for (int e = 0; e < 3; e++) uw += (u[e] - au / aa * a[e]) * (w[e] - aw / aa * a[e]);
            if ((uw > 0) != cis) CHECK(!s[k].sane, "cis = %d: sample %d is wrong but sane", cis, k);
        }
    }
    concord_stereocentre_t bad = {0, {1, 2, 3, 5}, 1};
    EXPECT_ERROR(concord_generate_structures_stereo(model, NULL, 9, z, NULL, 8, first, second, order, 1,
                                                    &bad, 0, NULL, 4, 3, 8, 0.0, 0, NULL, x, s),
                 CONCORD_ERROR_INVALID_INPUT, "centres[0]: atoms [1, 2, 3, 5] are not the four");
    bad = (concord_stereocentre_t){0, {1, 2, 3, 4}, 2};
    EXPECT_ERROR(concord_generate_structures_stereo(model, NULL, 9, z, NULL, 8, first, second, order, 1,
                                                    &bad, 0, NULL, 4, 3, 8, 0.0, 0, NULL, x, s),
                 CONCORD_ERROR_INVALID_INPUT, "centres[0].anticlockwise = 2 must be 0 or 1");
    EXPECT_ERROR(concord_generate_structures_stereo(model, NULL, 9, z, NULL, 8, first, second, order, 1,
                                                    NULL, 0, NULL, 4, 3, 8, 0.0, 0, NULL, x, s),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'centres' is NULL");
    EXPECT_ERROR(concord_generate_structures_stereo(model, NULL, 9, z, NULL, 8, first, second, order, -1,
                                                    NULL, 0, NULL, 4, 3, 8, 0.0, 0, NULL, x, s),
                 CONCORD_ERROR_INVALID_INPUT, "n_centres = -1 is negative");
    concord_double_bond_t single = {{0, 1}, {2, 5}, 1};
    EXPECT_ERROR(concord_generate_structures_stereo(model, NULL, 9, z, NULL, 8, first, second, order, 0,
                                                    NULL, 1, &single, 4, 3, 8, 0.0, 0, NULL, x, s),
                 CONCORD_ERROR_INVALID_INPUT, "atoms 0 and 1 share no bond of order 2");
    concord_double_bond_t wrong_ref = {{0, 1}, {1, 3}, 1};
    EXPECT_ERROR(concord_generate_structures_stereo(model, NULL, 6, ez, NULL, 5, efirst, esecond, eorder,
                                                    0, NULL, 1, &wrong_ref, 4, 5, 8, 0.0, 0, NULL,
                                                    x, s),
                 CONCORD_ERROR_INVALID_INPUT, "double_bonds[0].refs[0] = 1 is not a substituent");
}

/* Formal charges (`model` may be untrained): nitromethane's N+ and O- are taken; the same
 * graph without charges is a radical oxygen, a net charge and an out-of-range charge are
 * refused by name. */
static void test_generate_charges(concord_model_t* model) {
    /* C0 (H4, H5, H6), N1+ =O2, -O3-. */
    const int32_t z[7] = {6, 7, 8, 8, 1, 1, 1};
    const int32_t first[6] = {0, 1, 1, 0, 0, 0}, second[6] = {1, 2, 3, 4, 5, 6};
    const int32_t order[6] = {1, 2, 1, 1, 1, 1};
    int32_t q[7] = {0, 1, 0, -1, 0, 0, 0};
    double x[2 * 21];
    concord_sample_t s[2];
    EXPECT_OK(concord_generate_structures_stereo(model, NULL, 7, z, q, 6, first, second, order, 0,
                                                 NULL, 0, NULL, 2, 3, 8, 0.0, 0, NULL, x, s));
    EXPECT_ERROR(concord_generate_structures_stereo(model, NULL, 7, z, NULL, 6, first, second,
                                                    order, 0, NULL, 0, NULL, 2, 3, 8, 0.0, 0,
                                                    NULL, x, s),
                 CONCORD_ERROR_INVALID_INPUT, "atom 3 (O) has valence 1 < 2: a radical");
    q[3] = 0;
    EXPECT_ERROR(concord_generate_structures_stereo(model, NULL, 7, z, q, 6, first, second, order,
                                                    0, NULL, 0, NULL, 2, 3, 8, 0.0, 0, NULL, x, s),
                 CONCORD_ERROR_INVALID_INPUT, "net charge +1");
    q[3] = 200;
    EXPECT_ERROR(concord_generate_structures_stereo(model, NULL, 7, z, q, 6, first, second, order,
                                                    0, NULL, 0, NULL, 2, 3, 8, 0.0, 0, NULL, x, s),
                 CONCORD_ERROR_INVALID_INPUT, "formal_charges[3] = 200 is out of range");
}

/* concord_check_structure: a sane methane, a stretched bond, a clash, truncated messages and
 * bad arguments. */
static void test_check_structure(void) {
    int64_t n = -1;
    char msg[128];
    EXPECT_OK(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, CH4_X, &n,
                                      msg, sizeof msg));
    CHECK(n == 0 && msg[0] == '\0', "methane is sane: %lld problems, '%s'", (long long)n, msg);
    double x[15];
    memcpy(x, CH4_X, sizeof x);
    x[3] *= 2.0, x[4] *= 2.0, x[5] *= 2.0; /* C-H1 2.18 Å */
    EXPECT_OK(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, x, &n, msg,
                                      sizeof msg));
    CHECK(n >= 1 && strstr(msg, "bond 0-1 (order 1)") != NULL, "stretched: %lld, '%s'",
          (long long)n, msg);
    char tiny[6];
    EXPECT_OK(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, x, &n, tiny,
                                      sizeof tiny));
    CHECK(strcmp(tiny, "bond ") == 0, "truncated message '%s'", tiny);
    EXPECT_OK(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, x, &n, NULL,
                                      0));
    memcpy(x, CH4_X, sizeof x);
    x[6] = x[3] + 0.1, x[7] = x[4], x[8] = x[5]; /* H2 on top of H1 */
    EXPECT_OK(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, x, &n, msg,
                                      sizeof msg));
    CHECK(n >= 1 && strstr(msg, "unbonded atoms 1 and 2") != NULL, "clash: '%s'", msg);
    EXPECT_ERROR(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, NULL, &n,
                                         NULL, 0),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'positions' is NULL");
    EXPECT_ERROR(concord_check_structure(5, CH4_Z, 4, NULL, CH4_SECOND, CH4_ORDER, CH4_X, &n, NULL,
                                         0),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'bond_first' is NULL");
    EXPECT_ERROR(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, CH4_X, NULL,
                                         NULL, 0),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'n_problems' is NULL");
    const int32_t bad_second[4] = {1, 2, 3, 9};
    EXPECT_ERROR(concord_check_structure(5, CH4_Z, 4, CH4_FIRST, bad_second, CH4_ORDER, CH4_X, &n,
                                         NULL, 0),
                 CONCORD_ERROR_INVALID_INPUT, "bond_second[3] = 9 is out of range");
    const int32_t bad_z[5] = {6, 1, 1, 1, 92};
    EXPECT_ERROR(concord_check_structure(5, bad_z, 4, CH4_FIRST, CH4_SECOND, CH4_ORDER, CH4_X, &n,
                                         NULL, 0),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "92");
}

/* concord_model_deviation: a model agrees with itself exactly; two different models disagree,
 * with max >= mean >= min >= 0 and the per-atom values behind them; bad committees are errors. */
static void test_deviation(concord_model_t* a, concord_model_t* b) {
    const concord_model_t* same[2] = {a, a};
    const concord_model_t* pair[3] = {a, b, a};
    concord_deviation_t d;
    double atom[5] = {-1, -1, -1, -1, -1};
    EXPECT_OK(concord_model_deviation(same, 2, 5, CH4_Z, CH4_X, NULL, NULL, &d, atom));
    CHECK(d.energy == 0.0 && d.max_devi_f == 0.0 && d.max_devi_v == 0.0 && atom[0] == 0.0,
          "identical members: energy %g, max_devi_f %g", d.energy, d.max_devi_f);
    EXPECT_OK(concord_model_deviation(pair, 3, 5, CH4_Z, CH4_X, NULL, NULL, &d, atom));
    double max = 0.0, sum = 0.0;
    for (int i = 0; i < 5; i++) {
        max = atom[i] > max ? atom[i] : max;
        sum += atom[i];
    }
    CHECK(d.max_devi_f > 0.0 && d.max_devi_f == max && fabs(d.avg_devi_f - sum / 5) < 1e-12 &&
              d.avg_devi_f >= d.min_devi_f && d.min_devi_f >= 0.0,
          "max %g (atoms %g) avg %g min %g", d.max_devi_f, max, d.avg_devi_f, d.min_devi_f);
    CHECK(d.max_devi_v >= d.avg_devi_v && d.avg_devi_v >= d.min_devi_v && d.energy > 0.0,
          "virial %g %g %g energy %g", d.max_devi_v, d.avg_devi_v, d.min_devi_v, d.energy);
    EXPECT_OK(concord_model_deviation(pair, 2, 3, H2O_Z, H2O_X, NULL, NULL, &d, NULL));
    EXPECT_ERROR(concord_model_deviation(pair, 1, 5, CH4_Z, CH4_X, NULL, NULL, &d, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "at least 2 models");
    const concord_model_t* hole[2] = {a, NULL};
    EXPECT_ERROR(concord_model_deviation(hole, 2, 5, CH4_Z, CH4_X, NULL, NULL, &d, NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'model' is NULL");
    EXPECT_ERROR(concord_model_deviation(pair, 2, 5, CH4_Z, CH4_X, NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'deviation' is NULL");
    int32_t bad_z[5] = {6, 1, 1, 1, 200};
    EXPECT_ERROR(concord_model_deviation(pair, 2, 5, bad_z, CH4_X, NULL, NULL, &d, NULL),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "200");
}

int main(int argc, char** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL CORRUPT TRUNCATED MISSING GENERATOR_MODEL\n", argv[0]);
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

    test_check_structure();

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

    /* The halo exchange: its shape, the calls it makes, the same energy and forces when every
     * atom is local, and the engine's failure or a NULL exchange refused. */
    int64_t width = 0;
    int32_t rounds = 0;
    EXPECT_OK(concord_model_exchange_shape(model, &width, &rounds));
    CHECK(width > 0 && width % 4 == 0 && rounds >= 1, "exchange shape %lld x %d",
          (long long)width, (int)rounds);
    int exchange_state[4] = {0, 0, (int)width, 0};
    double halo_energy, halo_forces[15], plain_forces[15];
    EXPECT_OK(concord_compute_local(model, 5, 5, CH4_Z, CH4_X, 0, NULL, NULL, NULL, plain_forces,
                                    NULL, NULL, NULL));
    EXPECT_OK(concord_compute_local_exchange(model, 5, 5, CH4_Z, CH4_X, 0, NULL, NULL,
                                             count_exchanges, exchange_state, &halo_energy,
                                             halo_forces, NULL, NULL, NULL));
    CHECK(exchange_state[0] == rounds && exchange_state[1] == rounds,
          "%d forward and %d reverse exchanges, want %d each", exchange_state[0],
          exchange_state[1], (int)rounds);
    CHECK(fabs(halo_energy - all_local_energy) < 1e-9, "exchange energy");
    for (int k = 0; k < 15; ++k)
        CHECK(fabs(halo_forces[k] - plain_forces[k]) < 1e-9, "exchange force %d", k);
    exchange_state[3] = 3;
    EXPECT_ERROR(concord_compute_local_exchange(model, 5, 5, CH4_Z, CH4_X, 0, NULL, NULL,
                                                count_exchanges, exchange_state, &halo_energy,
                                                NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_INPUT, "the engine's exchange returned 3");
    EXPECT_ERROR(concord_compute_local_exchange(model, 5, 5, CH4_Z, CH4_X, 0, NULL, NULL, NULL,
                                                NULL, &halo_energy, NULL, NULL, NULL, NULL),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'exchange' is NULL");
    EXPECT_ERROR(concord_model_exchange_shape(model, NULL, &rounds),
                 CONCORD_ERROR_INVALID_ARGUMENT, "'width' is NULL");

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
    int64_t nonfinite_atom = -1;
    CHECK(concord_last_error_atoms(&nonfinite_atom, 1) == 1 && nonfinite_atom == 1,
          "the non-finite coordinate names atom 1");
    memcpy(bad_x, CH4_X, sizeof bad_x);
    bad_x[6] = bad_x[3] + 0.1; /* atom 2 onto atom 1 */
    bad_x[7] = bad_x[4];
    bad_x[8] = bad_x[5];
    EXPECT_ERROR(concord_compute(model, 5, CH4_Z, bad_x, NULL, NULL, &sentinel, forces, NULL,
                                 NULL, NULL),
                 CONCORD_ERROR_OVERLAP, "atoms 1 and 2 overlap");
    int64_t atoms[3] = {-7, -7, -7};
    CHECK(concord_last_error_atoms(atoms, 3) == 2 && atoms[0] == 1 && atoms[1] == 2 &&
              atoms[2] == -7,
          "the overlap names atoms 1 and 2");
    CHECK(concord_last_error_atoms(atoms, 1) == 2 && atoms[0] == 1, "capacity 1: one atom");
    CHECK(concord_last_error_atoms(NULL, 0) == 2, "capacity 0: the count only");
    CHECK(concord_last_error_atoms(NULL, 2) == -1, "NULL with capacity: -1");
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
                 CONCORD_ERROR_OVERLAP, "overlap");
    EXPECT_ERROR(concord_compute_local(model, 3, 5, sulfur, CH4_X, 0, NULL, NULL, &sentinel, NULL,
                                       NULL, NULL, NULL),
                 CONCORD_ERROR_UNKNOWN_ELEMENT, "S (atom 0)");
    CHECK(sentinel == 12345.0, "a failed call must not write outputs");

    test_optimize(model);
    concord_model_t* generator = NULL;
    EXPECT_OK(concord_model_load(argv[5], "cpu", 64, &generator));
    if (generator == NULL) return 1;
    test_generate(model, generator);
    test_generate_stereo(generator);
    test_generate_charges(generator);
    test_deviation(model, generator);
    EXPECT_OK(concord_model_free(generator));

    EXPECT_OK(concord_model_free(model));
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
