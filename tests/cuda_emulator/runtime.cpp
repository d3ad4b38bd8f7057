// The launch emulator behind include/cuda_runtime.h. Each block runs its threads as fibers on
// the calling thread, one at a time: the runnable thread of lowest rank runs until it reaches a
// barrier (__syncthreads, or either half of a warp shuffle) or returns; a barrier opens when
// every thread of its group (block or warp) has arrived. So the first warp runs as far ahead of
// the others as barriers allow, as a GPU may let it: a warp that overwrites shared memory which
// another has not read yet (a missing barrier before the write) shows in the results. No
// runnable thread while some are unfinished is a thread waiting at a barrier that others never
// reach (divergent __syncthreads or shuffle): reported as an error, where a GPU would hang.
//
// Rank is the thread index in even blocks and the reverse in odd ones, and shared memory is NaN
// at each block start, so a read of what another thread writes without a barrier in between
// sees NaN in one order or the other.
//
// Fiber switches: a few instructions of assembly on x86-64, ucontext elsewhere (correct, slower).
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_runtime.h"

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace emu {

namespace {

constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kDefaultSharedBytes = 48 * 1024;  // dynamic shared memory without opt-in
constexpr int kMaxSharedBytes = 163 * 1024;        // opt-in limit of sm_80, the oldest target

struct Barrier {
  unsigned expected = 0, arrived = 0;
  uint64_t generation = 0;
};

struct Fiber {
  std::unique_ptr<char[]> stack;
  unsigned thread = 0;
  bool done = false;
  const Barrier* waiting = nullptr;  // blocked until its generation passes wait_generation
  uint64_t wait_generation = 0;
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t context;
#endif
};

std::mutex launch_mutex;  // one launch at a time: the scheduler's state below is global
std::vector<Fiber> fibers;
Fiber* current = nullptr;
const std::function<void()>* body = nullptr;
Barrier block_bar, warp_bar[32];
bool opened = false;  // a barrier opened since the scheduler last looked
std::vector<float> dynamic_smem;
std::vector<void*> poisoned;  // static shared arrays poisoned in this block
std::map<const void*, int> max_dynamic_smem;

#if defined(__x86_64__)
// emu_switch(&save_sp, load_sp): push the callee-saved registers, swap stacks, pop, return.
extern "C" void emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .p2align 4
  .type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch, .-emu_switch
)");
void* scheduler_sp = nullptr;
void to_scheduler() { emu_switch(&current->sp, scheduler_sp); }
void to_fiber(Fiber& f) { emu_switch(&scheduler_sp, f.sp); }
#else
ucontext_t scheduler_context;
void to_scheduler() { swapcontext(&current->context, &scheduler_context); }
void to_fiber(Fiber& f) { swapcontext(&scheduler_context, &f.context); }
#endif

[[noreturn]] void fiber_main() {
  (*body)();
  current->done = true;
  to_scheduler();
  abort();  // a finished fiber is never resumed
}

void start_fiber(Fiber& f) {
  if (!f.stack) f.stack.reset(new char[kStackBytes]);
  f.done = false;
  f.waiting = nullptr;
#if defined(__x86_64__)
  // Six zero registers, then fiber_main as the return address, then a dummy return address so
  // that fiber_main starts with the stack aligned as after a call.
  auto top = reinterpret_cast<uintptr_t>(f.stack.get() + kStackBytes) & ~uintptr_t{15};
  auto* sp = reinterpret_cast<void**>(top) - 8;
  for (int i = 0; i < 6; ++i) sp[i] = nullptr;
  sp[6] = reinterpret_cast<void*>(&fiber_main);
  sp[7] = nullptr;
  f.sp = sp;
#else
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack.get();
  f.context.uc_stack.ss_size = kStackBytes;
  f.context.uc_link = nullptr;
  makecontext(&f.context, reinterpret_cast<void (*)()>(&fiber_main), 0);
#endif
}

void arrive(Barrier& b) {
  if (++b.arrived == b.expected) {
    b.arrived = 0;
    ++b.generation;
    opened = true;
    return;
  }
  current->waiting = &b;
  current->wait_generation = b.generation;
  to_scheduler();  // resumed once the barrier has opened
  current->waiting = nullptr;
}

bool runnable(const Fiber& f) {
  return !f.done && (!f.waiting || f.waiting->generation != f.wait_generation);
}

void run_block(unsigned bx, unsigned threads, bool reverse) {
  blockIdx = dim3(bx);
  block_bar = Barrier{threads};
  for (unsigned w = 0; w < threads / 32; ++w) warp_bar[w] = Barrier{32};
  dynamic_smem.assign(dynamic_smem.size(), NAN);
  poisoned.clear();
  for (unsigned t = 0; t < threads; ++t) {
    fibers[t].thread = reverse ? threads - 1 - t : t;
    start_fiber(fibers[t]);
  }
  // Every fiber before `next` is blocked or done, until a barrier opens.
  unsigned next = 0;
  for (unsigned left = threads; left > 0;) {
    while (next < threads && !runnable(fibers[next])) ++next;
    if (next == threads) {
      char what[160];
      snprintf(what, sizeof what,
               "emulated kernel deadlock in block %u: %u of %u threads wait at a barrier "
               "(__syncthreads or a warp shuffle) that the others never reach",
               bx, left, threads);
      throw std::runtime_error(what);  // the waiting fibers are abandoned, restarted next launch
    }
    Fiber& f = fibers[next];
    current = &f;
    threadIdx = dim3(f.thread);
    to_fiber(f);
    if (f.done) --left;
    if (opened) {
      opened = false;
      next = 0;
    }
  }
}

}  // namespace

void launch(const void* kernel, dim3 grid, dim3 block, size_t smem,
            const std::function<void()>& kernel_body) {
  std::lock_guard<std::mutex> lock(launch_mutex);
  const auto opt_in = max_dynamic_smem.find(kernel);
  const size_t smem_limit =
      opt_in == max_dynamic_smem.end() ? kDefaultSharedBytes : static_cast<size_t>(opt_in->second);
  char what[160];
  if (grid.x == 0 || block.x == 0 || block.x > 1024 || smem > smem_limit) {
    snprintf(what, sizeof what,
             "emulated launch: invalid configuration (grid %u, block %u, "
             "%zu bytes of dynamic shared memory, limit %zu)",
             grid.x, block.x, smem, smem_limit);
    throw std::runtime_error(what);
  }
  if (block.x % 32 != 0) {  // legal CUDA, but the warp emulation (and block_sum) needs full warps
    snprintf(what, sizeof what, "emulated launch: block of %u threads, not whole warps", block.x);
    throw std::runtime_error(what);
  }
  gridDim = grid;
  blockDim = block;
  body = &kernel_body;
  dynamic_smem.assign(smem / sizeof(float) + 1, NAN);
  if (fibers.size() < block.x) fibers.resize(block.x);
  static uint64_t launches = 0;
  ++launches;
  for (unsigned bx = 0; bx < grid.x; ++bx) run_block(bx, block.x, (bx + launches) % 2 == 1);
}

void block_barrier() { arrive(block_bar); }
void warp_barrier() { arrive(warp_bar[threadIdx.x / 32]); }
float* dynamic_shared() { return dynamic_smem.data(); }

void poison_shared(void* p, size_t nbytes) {
  for (void* q : poisoned)
    if (q == p) return;
  memset(p, 0xff, nbytes);
  poisoned.push_back(p);
}

bool set_max_dynamic_shared(const void* kernel, int nbytes) {
  if (nbytes < 0 || nbytes > kMaxSharedBytes) return false;
  std::lock_guard<std::mutex> lock(launch_mutex);
  max_dynamic_smem[kernel] = nbytes;
  return true;
}

}  // namespace emu
