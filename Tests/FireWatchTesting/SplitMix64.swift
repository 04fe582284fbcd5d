import Simulator

/// The seeded generator every randomized test replays from: the product's own (a campaign draws its runs with it).
public typealias SplitMix64 = Simulator.SplitMix64
