import BomflowServer
import Foundation
import JSON
import Testing
import WorkflowModel

/// The simulation profiles: the built-in one is the shipped fixture, every fixture parses, bad
/// ones are refused with the member's path, outcomes depend on seed, kind and ordinal only.
struct SimulationProfileTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        let path = FileManager.default.currentDirectoryPath + "/fixtures/simulations/" + name
        return Array(try #require(FileManager.default.contents(atPath: path)))
    }

    @Test func theBuiltInProfileIsTheDefaultFixture() throws {
        #expect(try SimulationProfile.parse(Self.fixture("default.json")) == SimulationProfile.builtIn)
        #expect(SimulationProfile.builtIn.steps.count == 8)
    }

    @Test(arguments: ["default.json", "flaky.json", "instant.json"])
    func everyFixtureParses(name: String) throws {
        #expect(try !SimulationProfile.parse(Self.fixture(name)).steps.isEmpty)
    }

    @Test(arguments: [
        (#"{"steps":{}}"#, "steps"),
        (#"{"steps":{"bad name":{}}}"#, "steps.bad name"),
        (#"{"steps":{"X":{"failureProbability":1.5}}}"#, "steps.X.failureProbability"),
        (#"{"steps":{"X":{"delayMilliseconds":[5,1]}}}"#, "steps.X.delayMilliseconds"),
        (#"{"steps":{"X":{"delayMilliseconds":-1}}}"#, "steps.X.delayMilliseconds"),
        (#"{"leaseSeconds":1,"steps":{"X":{"delayMilliseconds":2000}}}"#, "steps.X.delayMilliseconds"),
        (#"{"steps":{"X":{"colour":1}}}"#, "colour"),
    ])
    func badProfilesAreRefused(text: String, path: String) {
        #expect {
            _ = try SimulationProfile.parse(Array(text.utf8))
        } throws: { error in
            guard let error = error as? JSONError else { return false }
            return error.path.contains(path) || error.message.contains(path)
        }
    }

    @Test func outcomesAreAFunctionOfSeedKindAndOrdinal() throws {
        let profile = try SimulationProfile.parse(Self.fixture("flaky.json"))
        let first = (0..<50).map { profile.outcome(of: .vulnAnalysis, ordinal: $0, seed: 7)!.status }
        let again = (0..<50).map { profile.outcome(of: .vulnAnalysis, ordinal: $0, seed: 7)!.status }
        #expect(first == again)
        #expect(first.contains(.failed) && first.contains(.completed), "a third fail in the flaky profile")
        #expect(profile.outcome(of: StepName("UNKNOWN_KIND")!, ordinal: 0, seed: 7) == nil)
        let delays = (0..<50).map { profile.outcome(of: .vulnAnalysis, ordinal: $0, seed: 7)!.delay }
        #expect(delays.allSatisfy { (50...150).contains($0) })
    }
}
