#include "cpu/aligned.h"

#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace pt {
namespace {

// Blocks this large (packed weights, KV caches) start on a 2 MiB boundary and ask Linux for
// transparent huge pages (honoured when /sys/kernel/mm/transparent_hugepage/enabled is
// "always" or "madvise"). With 4 KiB pages, the first write into a fresh KV cache took a page
// fault every 4 KiB (measured: writing a 512-token prompt into a new GPT-2 cache took 18-32 ms,
// 6 ms once faulted in), and streaming the weights of a decode step walked the page tables
// every 4 KiB. Only the start is aligned; the size is not rounded up, so no memory is added.
constexpr size_t kHugePage = size_t{2} << 20;

}  // namespace

void* aligned_bytes(size_t bytes) {
  const size_t rounded = bytes == 0 ? 64 : (bytes + 63) & ~size_t{63};
  const size_t alignment = rounded >= kHugePage ? kHugePage : 64;
  void* p = nullptr;
  if (posix_memalign(&p, alignment, rounded) != 0 || p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (alignment == kHugePage) madvise(p, rounded / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  return p;
}

}  // namespace pt
