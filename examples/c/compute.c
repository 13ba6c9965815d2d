/* Energy and forces of a water molecule with the Concord C API.
 *
 * Build: make examples (or: cc -I include examples/c/compute.c -L target/release -lconcord
 *        -Wl,-rpath,$PWD/target/release -o compute)
 * Run:   target/examples/compute_c MODEL.concord */
#include <stdio.h>

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
    (void)concord_model_free(model);
    return 0;
}
