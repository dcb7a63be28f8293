#pragma once
// Memory-bandwidth probe: the rate at which all threads of the pool can stream a buffer much larger than the caches.
// Decode speed is bounded by it (every weight byte is read once per generated token).
#include <cstddef>

namespace fm {

class ThreadPool;

// Best-of-`repeats` read bandwidth in bytes per second over a buffer of `bytes`.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes = size_t{512} << 20, int repeats = 5);

}  // namespace fm
