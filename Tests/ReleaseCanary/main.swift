// Checks that only a release (optimized) build can make, run by `scripts/test` against the release build and by
// Tests/IntegrationTests/ReleaseBuildTests.swift. Two modes:
//
//   release-canary alertmanager-reads [ITERATIONS]
//       Drives PublisherCore's `AlertmanagerReads.readEach` (what the Alertmanager sync polls through) with one
//       to three sources, some failing, and checks that every answer lands at its own source's position.
//       Exit 0 when all did; exit 1, naming the first misplaced answer, when one did not.
//
//   release-canary tuple-miscompile [ITERATIONS]
//       The smallest program we know that Swift 6.3.1 miscompiles with -O: task-group children that return
//       `(index, .success(try await …))` hand back a wrong index. Exit 3 when the wrong index is seen (the
//       toolchain still has the bug), exit 0 when every iteration ran clean (the toolchain no longer has it).
import AlertmanagerModels
import Foundation
import PublisherCore

/// A source that answers with one alert whose fingerprint names it, or fails.
struct ScriptedSource: AlertmanagerObserving {
    let position: Int
    let fails: Bool

    var displayName: String { "source-\(position)" }

    func currentAlerts() async throws -> [ObservedAlert] {
        await Task.yield()
        if fails { throw SourceDown(position: position) }
        let alert = Alert(status: .firing, labels: ["alertname": "Canary"], fingerprint: displayName)
        return [ObservedAlert(alert: alert)]
    }
}

struct SourceDown: Error { let position: Int }

/// Whether `answer` is what `source` gives.
func answer(_ answer: Result<[ObservedAlert], any Error>, isFrom source: ScriptedSource) -> Bool {
    switch answer {
    case .success(let alerts): !source.fails && alerts.map(\.alert.fingerprint) == [source.displayName]
    case .failure(let error): source.fails && (error as? SourceDown)?.position == source.position
    }
}

func checkAlertmanagerReads(iterations: Int) async -> Int32 {
    for iteration in 0..<iterations {
        let sources = (0..<(1 + iteration % 3)).map { ScriptedSource(position: $0, fails: ($0 + iteration) % 3 == 0) }
        let answers = await AlertmanagerReads.readEach(sources)
        guard answers.count == sources.count else {
            print("iteration \(iteration): \(answers.count) answers for \(sources.count) sources")
            return 1
        }
        for (source, reply) in zip(sources, answers) where !answer(reply, isFrom: source) {
            print("iteration \(iteration): the answer at position \(source.position) is not source \(source.position)'s: \(reply)")
            return 1
        }
    }
    print("alertmanager-reads: \(iterations) polls, every answer at its own source's position")
    return 0
}

// The reproduction: the same shape AlertmanagerSync had before the fix, with nothing of the project in it.
struct Item: Sendable { var labels: [String: String]; var startsAt: Date; var silencedBy: [String] }
struct Failure: Error { var text: String }

final class Reproduction: Sendable {
    let fails: Bool
    init(fails: Bool) { self.fails = fails }
    func items() async throws -> [Item] {
        await Task.yield()
        if fails { throw Failure(text: "down") }
        return [Item(labels: ["alertname": "x"], startsAt: Date(), silencedBy: [])]
    }
}

/// Each source's answer by index, or nil when an index came back wrong (out of range, or one slot left empty).
func readEachWithTuples(_ sources: [Reproduction]) async -> [Result<[Item], any Error>]? {
    await withTaskGroup(of: (Int, Result<[Item], any Error>).self) { group in
        for (index, source) in sources.enumerated() {
            group.addTask {
                do { return (index, .success(try await source.items())) }
                catch { return (index, .failure(error)) }
            }
        }
        var answers = [Result<[Item], any Error>?](repeating: nil, count: sources.count)
        for await (index, answer) in group {
            guard answers.indices.contains(index) else { return nil }
            answers[index] = answer
        }
        guard answers.allSatisfy({ $0 != nil }) else { return nil }
        return answers.map { $0! }
    }
}

func checkTupleMiscompile(iterations: Int) async -> Int32 {
    for iteration in 0..<iterations {
        let sources = (0..<(1 + iteration % 3)).map { Reproduction(fails: ($0 + iteration) % 3 == 0) }
        if await readEachWithTuples(sources) == nil {
            print("tuple-miscompile: a wrong index came back at iteration \(iteration): the toolchain still miscompiles the pattern")
            return 3
        }
    }
    print("tuple-miscompile: \(iterations) iterations ran clean: this toolchain does not miscompile the pattern")
    return 0
}

let arguments = CommandLine.arguments.dropFirst()
let iterations = arguments.dropFirst().first.flatMap { Int($0) } ?? 20_000
switch arguments.first {
case "alertmanager-reads": exit(await checkAlertmanagerReads(iterations: iterations))
case "tuple-miscompile": exit(await checkTupleMiscompile(iterations: iterations))
default:
    FileHandle.standardError.write(Data("usage: release-canary alertmanager-reads|tuple-miscompile [ITERATIONS]\n".utf8))
    exit(64)
}
