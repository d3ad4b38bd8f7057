// 64-byte aligned heap memory (a cache line, and a whole zmm register) owned by a unique_ptr;
// blocks of 2 MiB and more start on a 2 MiB boundary, with transparent huge pages requested
// (see aligned.cpp). Packed weights, the KV cache and per-thread scratch all use it.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>

namespace pt {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

template <class T>
using AlignedPtr = std::unique_ptr<T, AlignedFree>;

// At least `bytes` bytes (rounded up to 64; never a null pointer for 0), or std::bad_alloc.
void* aligned_bytes(size_t bytes);

template <class T>
AlignedPtr<T> aligned_array(size_t count) {
  return AlignedPtr<T>(static_cast<T*>(aligned_bytes(count * sizeof(T))));
}

}  // namespace pt
