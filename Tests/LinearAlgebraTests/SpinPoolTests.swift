import Foundation
import LinearAlgebra
import Synchronization
import Testing

@Suite("spinningParallelFor")
struct SpinPoolTests {
  @Test("every task runs exactly once, round after round, on at most two threads")
  func roundsRunEachTaskOnce() {
    for round in 0..<2_000 {
      let tasks = 1 + round % 37
      let counts = Mutex([Int](repeating: 0, count: tasks))
      let threads = Mutex(Set<UInt>())
      spinningParallelFor(tasks: tasks) { t in
        counts.withLock { $0[t] += 1 }
        threads.withLock { _ = $0.insert(UInt(bitPattern: Int(bitPattern: pthread_self()))) }
      }
      #expect(counts.withLock { $0 } == [Int](repeating: 1, count: tasks), "round \(round)")
      #expect(threads.withLock { $0.count } <= min(2, ProcessInfo.processInfo.activeProcessorCount))
    }
  }

  @Test("a nested call and calls from concurrent threads run inline and still cover every task")
  func nestedAndConcurrent() async {
    let total = Mutex(0)
    spinningParallelFor(tasks: 8) { _ in
      spinningParallelFor(tasks: 5) { _ in total.withLock { $0 += 1 } }
    }
    #expect(total.withLock { $0 } == 40)
    let sums = await withTaskGroup(of: Int.self) { group in
      for caller in 0..<4 {
        group.addTask {
          let seen = Mutex(0)
          for _ in 0..<200 { spinningParallelFor(tasks: 16) { t in seen.withLock { $0 += t + caller } } }
          return seen.withLock { $0 }
        }
      }
      return await group.reduce(into: [Int]()) { $0.append($1) }.sorted()
    }
    #expect(sums == (0..<4).map { 200 * (120 + 16 * $0) })
  }
}
