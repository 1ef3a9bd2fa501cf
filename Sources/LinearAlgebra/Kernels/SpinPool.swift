// A fork-join pool for many small rounds (a decode step runs ~150 of ~50–100 µs each).
//
// `parallelFor` hands each call to Dispatch, whose workers sleep between calls: waking them
// costs tens of microseconds per round, as much as the round itself when one token's matrix
// products are split across two cores. Here the workers are our own threads, kept between
// rounds: after a round they spin for a while on the round counter and only then sleep on a
// condition variable, so back-to-back rounds start at once.
//
// Protocol (a sequence lock around one shared round):
//   generation odd  — closed: at rest, and while the caller writes the next round;
//   generation even — a round is open: workers take part.
// A worker enters by incrementing `active` and re-checking that the generation did not change
// (else it leaves and waits again); it then claims task indices from `next` until they run
// out and leaves (decrementing `active`). The caller writes the round while the pool is
// closed and empty, opens it (even), works on it itself, waits until every task is done,
// closes it (odd) and waits until `active` is 0. So no worker ever reads a half-written round
// or calls a round's body after `run` returns, and every task index is claimed exactly once.

import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

/// Runs `body(task)` for every task in `0..<tasks` on up to `Parallelism.effectiveThreads`
/// threads of a persistent spinning pool (see the file header); inline for one task or one
/// thread, and inline when the pool is busy (a nested or concurrent call). `body` must only
/// write memory no other task writes; results then do not depend on the thread count.
public func spinningParallelFor(tasks: Int, _ body: @Sendable (Int) -> Void) {
  let threads = min(tasks, Parallelism.effectiveThreads)
  if threads <= 1 || !SpinPool.shared.run(tasks: tasks, threads: threads, body) {
    for t in 0..<tasks { body(t) }
  }
}

final class SpinPool: @unchecked Sendable {
  static let shared = SpinPool()

  /// Spin iterations (one atomic load each) before a waiting worker sleeps: ~0.1–0.3 ms.
  private static let spinLimit = 1 << 16

  /// Odd when closed (see the file header); starts closed.
  private let generation = Atomic<Int>(1)
  private let active = Atomic<Int>(0)
  private let next = Atomic<Int>(0)
  private let done = Atomic<Int>(0)
  private let sleeping = Atomic<Int>(0)
  /// Held by the one caller whose round is in flight.
  private let owner = Atomic<Bool>(false)
  /// The round: written only while the pool is closed and no worker is inside.
  private var taskCount = 0
  private var participants = 0
  private var body: (@Sendable (Int) -> Void)?
  /// Workers started so far (index 0 ..< workerCount); guarded by `owner`.
  private var workerCount = 0
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let wake: UnsafeMutablePointer<pthread_cond_t>

  private init() {
    mutex = .allocate(capacity: 1)
    wake = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(wake, nil)
  }

  /// Runs one round on the caller and `threads − 1` workers; false (nothing run) when
  /// another round is in flight.
  func run(tasks: Int, threads: Int, _ work: @Sendable (Int) -> Void) -> Bool {
    guard owner.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
    defer { owner.store(false, ordering: .releasing) }
    while workerCount < threads - 1 { startWorker(index: workerCount); workerCount += 1 }
    // Closed, with no worker inside: the previous call left it so.
    withoutActuallyEscaping(work) { escapable in
      taskCount = tasks
      participants = threads - 1
      body = escapable
      next.store(0, ordering: .sequentiallyConsistent)
      done.store(0, ordering: .sequentiallyConsistent)
      generation.add(1, ordering: .sequentiallyConsistent)  // open
      if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
      }
      self.runTasks(count: tasks)
      while done.load(ordering: .sequentiallyConsistent) < tasks {}
      // Close before `escapable` goes out of scope, and wait until no worker can still call it.
      generation.add(1, ordering: .sequentiallyConsistent)
      while active.load(ordering: .sequentiallyConsistent) != 0 {}
      body = nil
    }
    return true
  }

  /// Claims and runs tasks of the open round until none is left.
  private func runTasks(count tasks: Int) {
    guard let body else { return }
    while true {
      let t = next.add(1, ordering: .sequentiallyConsistent).oldValue
      if t >= tasks { return }
      body(t)
      done.add(1, ordering: .sequentiallyConsistent)
    }
  }

  private func workerLoop(index: Int) {
    var seen = 0  // the generation of the last round this worker entered (rounds are even, > 0)
    func isNewRound(_ g: Int) -> Bool { g != seen && g & 1 == 0 }
    while true {
      // Wait for a round not yet entered: spin, then sleep.
      var spins = 0
      var g = generation.load(ordering: .sequentiallyConsistent)
      while !isNewRound(g) {
        spins += 1
        if spins >= Self.spinLimit {
          pthread_mutex_lock(mutex)
          sleeping.add(1, ordering: .sequentiallyConsistent)
          while !isNewRound(generation.load(ordering: .sequentiallyConsistent)) { pthread_cond_wait(wake, mutex) }
          sleeping.subtract(1, ordering: .sequentiallyConsistent)
          pthread_mutex_unlock(mutex)
          spins = 0
        }
        g = generation.load(ordering: .sequentiallyConsistent)
      }
      seen = g
      // Enter, and make sure the round did not close meanwhile.
      active.add(1, ordering: .sequentiallyConsistent)
      if generation.load(ordering: .sequentiallyConsistent) == g && index < participants {
        runTasks(count: taskCount)
      }
      active.subtract(1, ordering: .sequentiallyConsistent)
    }
  }

  private func startWorker(index: Int) {
    let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { raw in
      let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
      context.pool.workerLoop(index: context.index)
      return nil
    }, context)
    precondition(status == 0, "SpinPool: pthread_create failed (\(status))")
    pthread_detach(thread)
  }
}

private final class WorkerContext {
  let pool: SpinPool
  let index: Int
  init(pool: SpinPool, index: Int) { self.pool = pool; self.index = index }
}
