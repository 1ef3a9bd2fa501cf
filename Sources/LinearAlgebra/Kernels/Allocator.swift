// How the C allocator treats the large, short-lived matrices of a forward pass.
//
// A forward pass allocates and frees activation, score and logit blocks of 1–200 MB many
// times a second. glibc's defaults give blocks above its (adaptive) mmap threshold back to
// the kernel on free and trim the heap top eagerly, so every reuse page-faults fresh zeroed
// pages: 8% of an evaluation's time and ~20% of a pruning run's went to the kernel.
// Raising the mmap and trim thresholds keeps freed blocks in the heap for reuse. Measured on
// `pare eval` (1 thread, 32 chunks, busy machine): system time 1.3–2.5 s → 0.6 s, 12–40% more
// tokens/s, identical perplexity.
// Setting only one of the thresholds is worse than the defaults (it freezes the adaptive
// threshold low), so both are set together, with some top padding.

#if canImport(Glibc)
import Glibc
#endif

public enum Allocator {
  /// Keeps large freed blocks in the heap (glibc only; elsewhere a no-op). Call once at
  /// process start, before the first large allocation. Returns whether glibc accepted it.
  @discardableResult
  public static func keepLargeBlocks() -> Bool {
    #if canImport(Glibc)
    // `mallopt` lives in <malloc.h>, which the Glibc module does not export; look it up.
    // Parameter numbers from <malloc.h>.
    let trimThreshold: Int32 = -1, topPad: Int32 = -2, mmapThreshold: Int32 = -3
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
    let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    return mallopt(mmapThreshold, 1 << 30) == 1 && mallopt(trimThreshold, Int32.max) == 1
      && mallopt(topPad, 64 << 20) == 1
    #else
    return false
    #endif
  }
}
