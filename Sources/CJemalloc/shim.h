// jemalloc replaces malloc and free in the executables that link it (boxoffice-api,
// boxoffice-worker, boxoffice-bench): under load glibc's malloc spent several
// microseconds per request in consolidation and lock traffic. Only mallctl is
// declared here, to log the version in use.
#include <stddef.h>
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
