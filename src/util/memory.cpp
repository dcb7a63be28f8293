#include "util/memory.h"

#include <cstdlib>  // defines __GLIBC__ on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace fm {

void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void limit_allocator_arenas(int arenas) {
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, arenas);
#else
  (void)arenas;
#endif
}

}  // namespace fm
