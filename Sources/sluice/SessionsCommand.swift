import ArgumentParser
import Foundation
import SluiceRuntime
import SluiceServices
import SluiceSyntax

struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "Conversations kept with `run --new-session` / `--session ID`.",
        subcommands: [List.self, Show.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sessions, most recently used first.")
        @OptionGroup var store: StoreOptions
        @Option(name: .long, help: "How many sessions to show.") var limit = 20
        @Flag(name: .long, help: "Print as JSON.") var json = false

        func run() throws {
            let sessions: [SessionSummary]
            do { sessions = try openStore(store.path).listSessions(limit: limit) } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("cannot read sessions from \(store.path): \(error)").exit()
            }
            if json {
                Terminal.out(JSONValue.array(sessions.map { s in
                    .object([("id", .string(s.id)), ("created_at", .number(s.createdAt)), ("updated_at", .number(s.updatedAt)),
                             ("turns", .number(Double(s.turns))), ("summarized_through", .number(Double(s.summarizedThrough)))])
                }).prettyPrinted())
            } else if sessions.isEmpty {
                Terminal.out("no sessions in \(store.path) yet: start one with `sluice run FILE --new-session`")
            } else {
                for s in sessions {
                    Terminal.out("\(s.id)  \(s.turns) turns" + (s.summarizedThrough > 0 ? ", summarized through turn \(s.summarizedThrough)" : ""))
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A session's summary and turns.")
        @ArgumentParser.Argument(help: "The session id.") var id: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let transcript: (summary: String?, through: Int, turns: [SessionTurn])?
            do { transcript = try openStore(store.path).sessionTranscript(id) } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("\(error)").exit()
            }
            guard let transcript else { throw UsageError("no session \(id) in \(store.path)").exit() }
            if let summary = transcript.summary { Terminal.out("summary (through turn \(transcript.through)):\n\(summary)\n") }
            for turn in transcript.turns { Terminal.out("[\(turn.seq)] \(turn.role): \(turn.content)") }
        }
    }
}
