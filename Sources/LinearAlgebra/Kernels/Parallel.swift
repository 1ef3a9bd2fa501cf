// Parallelism for LinearAlgebra: one helper, `parallelFor`, on Dispatch's global pool.
//
// Work is cut into `tasks` pieces chosen by the caller from the problem size only. Which
// thread runs which piece never changes the arithmetic, so results are bit-identical for any
// thread count. Workers pull task indices from a shared atomic counter (dynamic balance: on a
// shared machine one core may be slower than the other).

import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

/// The process-wide cap on worker threads used by LinearAlgebra kernels.
///
/// `0` (the default) means "all active processors". Benchmarks set 1 and 2 to time scaling.
/// Results do not depend on it (see `parallelFor`).
public enum Parallelism {
  /// The maximum number of threads a kernel may use; `0` means all active processors.
  public static var maxThreads: Int {
    get { threadLimit.load(ordering: .relaxed) }
    set { threadLimit.store(max(0, newValue), ordering: .relaxed) }
  }

  /// The number of threads kernels will actually use.
  public static var effectiveThreads: Int {
    let cap = maxThreads
    return cap == 0 ? processorCount : min(cap, processorCount)
  }
}

private let threadLimit = Atomic<Int>(0)

/// Active processors, read once: glibc's sysconf opens /sys/devices/system/cpu/online on
/// every call, and kernels ask on every `parallelFor` (a decode step makes ~150 calls).
private let processorCount = max(1, activeProcessorCount())

private func activeProcessorCount() -> Int {
  #if canImport(Glibc) || canImport(Musl)
  return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
  #else
  return Int(sysconf(_SC_NPROCESSORS_ONLN))
  #endif
}

/// A counter shared by the workers of one `parallelFor` call.
private final class TaskCounter: Sendable {
  let next = Atomic<Int>(0)
}

/// Runs `body(task)` for every `task` in `0..<tasks`, on up to `Parallelism.effectiveThreads`
/// threads. `body` must only write to memory no other task writes.
///
/// `makeScratch` is called once per worker thread, and its result is passed to every task
/// that worker runs (packing buffers, so they are not allocated per task), then handed to
/// `releaseScratch`.
///
/// Closures are `@Sendable` because Dispatch runs them on other threads; kernels that capture
/// pointers re-bind them as `nonisolated(unsafe) let` locals, each task touching a disjoint
/// part of the output.
func parallelFor<Scratch>(tasks: Int, maxThreads: Int? = nil, makeScratch: @Sendable () -> Scratch,
                          releaseScratch: @Sendable (Scratch) -> Void = { _ in },
                          _ body: @Sendable (Int, inout Scratch) -> Void) {
  if tasks <= 0 { return }
  let threads = min(tasks, Parallelism.effectiveThreads, maxThreads ?? Int.max)
  if threads == 1 {
    var scratch = makeScratch()
    for t in 0..<tasks { body(t, &scratch) }
    releaseScratch(scratch)
    return
  }
  let counter = TaskCounter()
  DispatchQueue.concurrentPerform(iterations: threads) { _ in
    var scratch = makeScratch()
    while true {
      let t = counter.next.add(1, ordering: .relaxed).oldValue
      if t >= tasks { break }
      body(t, &scratch)
    }
    releaseScratch(scratch)
  }
}

/// Runs `body(task)` for every `task` in `0..<tasks` on up to `Parallelism.effectiveThreads`
/// threads (and at most `maxThreads`), inline on the caller when that is 1, pulling tasks
/// dynamically. `body` must only write to memory no other task writes; then results do not
/// depend on the thread count.
public func parallelFor(tasks: Int, maxThreads: Int? = nil, _ body: @Sendable (Int) -> Void) {
  parallelFor(tasks: tasks, maxThreads: maxThreads, makeScratch: { () }) { t, _ in body(t) }
}
