#include "cpu/aligned.h"

#include <new>

namespace pt {

void* aligned_bytes(size_t bytes) {
  const size_t rounded = bytes == 0 ? 64 : (bytes + 63) & ~size_t{63};
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace pt
