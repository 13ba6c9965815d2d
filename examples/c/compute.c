/* Energy and forces of a water molecule with the Concord C API, its geometry optimisation, and,
 * when the model has a structure generator, methane structures generated from its bond graph
 * and relaxed.
 *
 * Build: make examples (or: cc -I include examples/c/compute.c -L target/release -lconcord
 *        -Wl,-rpath,$PWD/target/release -o compute)
 * Run:   target/examples/compute_c MODEL.concord */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "concord.h"

/* Prints the last error of a failed call and returns 1. */
static int fail(const char* what) {
    fprintf(stderr, "%s failed: %s\n", what, concord_last_error());
    return 1;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.concord\n", argv[0]);
        return 2;
    }
    if (concord_check_abi_version(CONCORD_ABI_VERSION) != CONCORD_SUCCESS) {
        return fail("concord_check_abi_version");
    }
    concord_model_t* model = NULL;
    if (concord_model_load(argv[1], "cpu", 64, &model) != CONCORD_SUCCESS) {
        return fail("concord_model_load");
    }

    /* Water: O, H, H; positions in Angstrom. */
    const int32_t numbers[3] = {8, 1, 1};
    const double positions[3][3] = {{0.0, 0.0, 0.117}, {0.0, 0.757, -0.467}, {0.0, -0.757, -0.467}};
    double energy = 0.0;
    double forces[3][3];
    if (concord_compute(model, 3, numbers, &positions[0][0], NULL, NULL, &energy, &forces[0][0],
                        NULL, NULL, NULL) != CONCORD_SUCCESS) {
        int status = fail("concord_compute");
        (void)concord_model_free(model);
        return status;
    }

    printf("Concord %s, water\n", concord_version());
    printf("energy: %.10f eV\n", energy);
    printf("forces (eV/A):\n");
    for (int i = 0; i < 3; i++) {
        printf("  %2d  %14.10f %14.10f %14.10f\n", numbers[i], forces[i][0], forces[i][1],
               forces[i][2]);
    }

    /* Geometry optimisation of the water molecule (default options: L-BFGS, fmax 0.01 eV/A). */
    double relaxed[3][3];
    memcpy(relaxed, positions, sizeof relaxed);
    concord_optimize_result_t result;
    if (concord_optimize(model, 3, numbers, &relaxed[0][0], NULL, NULL, NULL, &result) !=
        CONCORD_SUCCESS) {
        int status = fail("concord_optimize");
        (void)concord_model_free(model);
        return status;
    }
    printf("optimised: energy %.10f eV, max force %.2e eV/A, %lld steps, %s\n", result.energy,
           result.max_force, (long long)result.steps,
           result.converged ? "converged" : "not converged");

    /* Structures from a bond graph: methane, C-H x 4, three samples, each relaxed. */
    int32_t has_generator = 0;
    if (concord_model_has_generator(model, &has_generator) != CONCORD_SUCCESS) {
        int status = fail("concord_model_has_generator");
        (void)concord_model_free(model);
        return status;
    }
    if (!has_generator) {
        printf("this model has no structure generator: skipping generation\n");
        (void)concord_model_free(model);
        return 0;
    }
    enum { N = 5, K = 3 };
    const int32_t ch4[N] = {6, 1, 1, 1, 1};
    const int32_t first[4] = {0, 0, 0, 0}, second[4] = {1, 2, 3, 4}, order[4] = {1, 1, 1, 1};
    double samples[K][N][3];
    concord_optimize_result_t results[K];
    if (concord_generate_optimize(model, N, ch4, 4, first, second, order, K, /*seed*/ 42,
                                  /*steps: default*/ 0, /*churn*/ 0.0, NULL, &samples[0][0][0],
                                  results) != CONCORD_SUCCESS) {
        int status = fail("concord_generate_optimize");
        (void)concord_model_free(model);
        return status;
    }
    printf("generated methane, %d samples:\n", K);
    for (int k = 0; k < K; k++) {
        if (results[k].status != CONCORD_SUCCESS) {
            /* The relaxation of this sample failed: rerun it for the message. */
            concord_status_t again =
                concord_optimize(model, N, ch4, &samples[k][0][0], NULL, NULL, NULL, NULL);
            printf("sample %d: relaxation failed (status %d): %s\n", k, (int)again,
                   concord_last_error());
            continue;
        }
        double ch = 0.0;
        for (int a = 0; a < 3; a++) ch += pow(samples[k][1][a] - samples[k][0][a], 2);
        printf("sample %d: energy %.6f eV, %lld steps, %s, C-H %.3f A\n", k, results[k].energy,
               (long long)results[k].steps,
               results[k].converged ? "converged" : "not converged", sqrt(ch));
    }
    (void)concord_model_free(model);
    return 0;
}
