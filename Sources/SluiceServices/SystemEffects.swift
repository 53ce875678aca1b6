import Foundation
import SluiceRuntime

/// The wall clock: seconds since the Unix epoch.
public struct SystemClock: Clock {
    public init() {}
    public func now() -> Double { Date().timeIntervalSince1970 }
    public func sleep(seconds: Double) async throws {
        guard seconds > 0 else { return }
        try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
    }
}

/// The operating system's cryptographically secure random numbers.
public struct SystemRandom: RandomSource {
    public init() {}
    public func next() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }
}
