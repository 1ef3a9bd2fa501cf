// How fast this machine streams weights from memory (issue 16; docs/RESULTS.md, session 13):
// sums a 540 MB array (SmolLM2's F32 weights) with 1 and 2 threads, each thread reading its
// own half front to back, four 64-byte loads a step. F32 decode reads every weight once a
// token, so bytes / this rate bounds its tokens/s, for Pare and llama.cpp alike.
// Standalone: `scripts/probe-bandwidth/run [MB]`.

import Foundation

let megabytes = CommandLine.arguments.dropFirst().compactMap { Int($0) }.first ?? 540
let n = megabytes * 1_000_000 / 4
let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
for i in 0..<n { p[i] = Float(i & 7) }
func seconds(_ body: () -> Void) -> Double {
  let t = DispatchTime.now().uptimeNanoseconds; body(); return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
}
print("streaming \(megabytes) MB")
for threads in [1, 2, 1, 2, 2] {
  let sums = UnsafeMutablePointer<Float>.allocate(capacity: threads)
  nonisolated(unsafe) let (base, out) = (p, sums)
  let t = seconds {
    DispatchQueue.concurrentPerform(iterations: threads) { th in
      let chunk = n / threads / 64 * 64, r = UnsafeRawPointer(base + th * chunk)
      var a = SIMD16<Float>(), b = SIMD16<Float>(), c = SIMD16<Float>(), d = SIMD16<Float>()
      var i = 0
      while i + 64 <= chunk {
        a += r.load(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        b += r.load(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self)
        c += r.load(fromByteOffset: 4 * i + 128, as: SIMD16<Float>.self)
        d += r.load(fromByteOffset: 4 * i + 192, as: SIMD16<Float>.self)
        i += 64
      }
      out[th] = (a + b + c + d).sum()
    }
  }
  let checksum = (0..<threads).reduce(Float(0)) { $0 + sums[$1] }
  print(String(format: "%d thread%@  %5.1f GB/s  (checksum %.3g)", threads, threads == 1 ? " " : "s", Double(n / threads / 64 * 64 * threads * 4) / t / 1e9, checksum))
  sums.deallocate()
}
