#pragma once
// Returning freed heap memory to the system; the process's resident size.
#include <cstddef>

namespace fm {

// Gives the allocator's free pages back to the system (glibc keeps them per arena otherwise, so a burst of large
// requests would leave the resident size high long after it ended). Cheap enough to call when the server is idle.
void release_free_memory();

// Caps the allocator's per-thread arenas. A server's handler threads free what other threads allocated; with an
// arena per thread, that memory fragments across arenas and stays resident after bursts. The inference loop does
// not allocate, so the shared arena's lock costs nothing measurable there.
void limit_allocator_arenas(int arenas);

// The process's resident memory now (anonymous + file pages) and its peak so far, in bytes (0 if unknown).
size_t resident_bytes();
size_t peak_resident_bytes();

}  // namespace fm
