import Foundation
import LinearAlgebra
import Synchronization
import Testing

@Suite("parallelFor")
struct ParallelTests {
  /// Runs 64 tasks that each take a moment and returns the distinct threads that ran them.
  static func threads(maxThreads: Int) -> (Set<UInt>, [Int]) {
    let seen = Mutex<(Set<UInt>, [Int])>(([], []))
    parallelFor(tasks: 64, maxThreads: maxThreads) { task in
      usleep(200)
      seen.withLock { $0.0.insert(UInt(bitPattern: Int(bitPattern: pthread_self()))); $0.1.append(task) }
    }
    return seen.withLock { $0 }
  }

  @Test("one thread runs every task inline on the caller, in order")
  func oneThread() {
    let (threads, order) = Self.threads(maxThreads: 1)
    #expect(threads == [UInt(bitPattern: Int(bitPattern: pthread_self()))])
    #expect(order == Array(0..<64))
  }

  /// (The cap itself only bites on machines with more than two cores.)
  @Test("a cap of two threads is never exceeded, and every task runs exactly once")
  func twoThreads() {
    let (threads, order) = Self.threads(maxThreads: 2)
    #expect(threads.count <= 2)
    #expect(order.sorted() == Array(0..<64))
  }
}
