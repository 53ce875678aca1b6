import CSQLite
import Foundation

/// A failure reported by SQLite, with SQLite's own message and what we were doing.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The SQLite result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, ...).
    public var code: Int32
    public var message: String
    public var description: String { message }

    /// What the failure means for the database at `path`, in words a user can act on, followed by
    /// SQLite's own message; SQLite's message alone when it is already the cause (a constraint).
    func explained(path: String, busyTimeoutMilliseconds: Int32) -> String {
        let cause: String
        switch code & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED:
            let seconds = String(format: "%g", Double(busyTimeoutMilliseconds) / 1000)
            cause = "the database \(path) is locked: another process held its write lock for more than \(seconds) s"
        case SQLITE_READONLY: cause = "the database \(path) is read-only: the file, or its folder, is not writable by this user"
        case SQLITE_FULL: cause = "the disk holding the database \(path) is full"
        case SQLITE_CORRUPT, SQLITE_NOTADB: cause = "\(path) is damaged or is not a SQLite database; it was left as it is"
        case SQLITE_IOERR: cause = "the disk failed while writing the database \(path)"
        case SQLITE_CANTOPEN: cause = "the database \(path) cannot be opened (its folder is missing or not writable)"
        default: return message
        }
        return "\(cause) (SQLite: \(message))"
    }
}

/// A value bound to, or read from, a statement parameter.
enum SQLiteValue {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    static func int(_ value: Int) -> SQLiteValue { .integer(Int64(value)) }
    static func optionalText(_ value: String?) -> SQLiteValue { value.map(SQLiteValue.text) ?? .null }
}

/// One SQLite database file. Every use goes through `withConnection` or `transaction`, which hold
/// a lock, so a single instance can be shared between threads.
final class SQLiteDatabase: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private let connection: SQLiteConnection
    /// How long a write waits for another process's write lock before failing with `SQLITE_BUSY`.
    let busyTimeoutMilliseconds: Int32

    /// Whether the database was opened with `readOnly`: nothing is written, not even the journal mode.
    let isReadOnly: Bool

    /// Opens (creating it and its folders if needed) the database at `path`, in WAL mode. With
    /// `readOnly` the file must exist and is only read, so a read-only file or folder can be opened.
    /// `inspect` sees the file before anything is written to it, not even the journal mode, and
    /// may refuse it by throwing.
    init(path: String, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 5_000,
         inspect: (SQLiteConnection) throws -> Void = { _ in }) throws {
        Self.configureLibrary
        self.path = path
        self.isReadOnly = readOnly
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        let folder = (path as NSString).deletingLastPathComponent
        if !readOnly, !folder.isEmpty, path != ":memory:" {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot create the folder \(folder) for the database \(path): \(error.localizedDescription)")
            }
        }
        var handle: OpaquePointer?
        var flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        var name = path
        // A WAL database needs its -shm file, which a read-only folder cannot get: there SQLite reads
        // it only as an immutable file (nothing can write it while the folder stays read-only anyway).
        if readOnly, path != ":memory:", access(folder.isEmpty ? "." : folder, W_OK) != 0, !FileManager.default.fileExists(atPath: path + "-shm") {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL
            name = absolute.absoluteString + "?immutable=1"
            flags |= SQLITE_OPEN_URI
        }
        let status = sqlite3_open_v2(name, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let reason = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            if let handle { sqlite3_close_v2(handle) }
            throw SQLiteError(code: status, message: "cannot open the database \(path): \(reason)")
        }
        connection = SQLiteConnection(handle: handle, path: path)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        try inspect(connection)
        if path != ":memory:", !readOnly {
            try connection.exec("PRAGMA journal_mode = WAL")
            // NORMAL, not FULL: in WAL mode a commit is then a write to the log without an fsync
            // (the log is synced at checkpoints). The file is never corrupted either way, and a
            // committed trace survives the process dying (kill -9, a crash); only a power cut or an
            // OS crash can lose the last commits before a checkpoint, and a trace is a record of
            // what ran, not the results themselves. FULL would put an fsync (milliseconds on a
            // disk) on every batch, which at low concurrency is every run.
            try connection.exec("PRAGMA synchronous = NORMAL")
        }
        try connection.exec("PRAGMA foreign_keys = ON")
    }

    /// Read-only connections for `withReader`, opened on first use, at most `readerLimit`. In WAL
    /// mode a reader sees the last commit and neither waits for the writer nor holds it up, so
    /// retrieval does not queue behind trace batches and ledger transactions on `connection`.
    private var idleReaders: [SQLiteConnection] = []
    private var openReaders = 0
    private let readerLimit = max(2, ProcessInfo.processInfo.activeProcessorCount)
    private let readerAvailable = NSCondition()

    /// The library's process-wide settings, made once before the first connection opens.
    private static let configureLibrary: Void = { _ = sluice_sqlite_configure() }()

    // The cached statements are finalized with the connection: close_v2 waits for them.
    deinit {
        for reader in idleReaders { sqlite3_close_v2(reader.handle) }
        sqlite3_close_v2(connection.handle)
    }

    func withConnection<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(connection)
    }

    /// Runs `body`, which only reads, on a connection of its own when the file allows one (WAL on
    /// disk), else on the main connection. Every reader has its own statement cache.
    func withReader<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        guard path != ":memory:", !isReadOnly else { return try withConnection(body) }
        let reader = try takeReader()
        defer { giveBack(reader) }
        return try body(reader)
    }

    private func takeReader() throws -> SQLiteConnection {
        readerAvailable.lock()
        defer { readerAvailable.unlock() }
        while true {
            if let reader = idleReaders.popLast() { return reader }
            if openReaders < readerLimit {
                openReaders += 1
                do {
                    return try openReader()
                } catch {
                    openReaders -= 1
                    throw error
                }
            }
            readerAvailable.wait()
        }
    }

    private func giveBack(_ reader: SQLiteConnection) {
        readerAvailable.lock()
        idleReaders.append(reader)
        readerAvailable.signal()
        readerAvailable.unlock()
    }

    private func openReader() throws -> SQLiteConnection {
        var handle: OpaquePointer?
        let status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let handle else {
            let reason = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            if let handle { sqlite3_close_v2(handle) }
            throw SQLiteError(code: status, message: "cannot open the database \(path) for reading: \(reason)")
        }
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        return SQLiteConnection(handle: handle, path: path)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT`, rolling back if it throws.
    func transaction<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try withConnection { connection in
            // Through `run`, so the two statements are prepared once, not parsed on every transaction.
            try connection.run("BEGIN IMMEDIATE")
            do {
                let result = try body(connection)
                try connection.run("COMMIT")
                return result
            } catch {
                try? connection.exec("ROLLBACK")
                throw error
            }
        }
    }
}

/// The raw connection; only reachable while the database lock is held.
final class SQLiteConnection {
    let handle: OpaquePointer
    let path: String

    fileprivate init(handle: OpaquePointer, path: String) { self.handle = handle; self.path = path }

    func error(_ code: Int32, _ context: String) -> SQLiteError {
        SQLiteError(code: code, message: "\(context): \(String(cString: sqlite3_errmsg(handle))) (database \(path))")
    }

    /// Runs one or more statements that take no parameters and return no rows.
    func exec(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        guard status == SQLITE_OK else {
            let reason = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_free(message)
            throw SQLiteError(code: status, message: "\(reason) (database \(path), while running: \(sql.prefix(80)))")
        }
    }

    func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status, "cannot prepare \(sql.prefix(80))") }
        return SQLiteStatement(handle: statement, connection: self)
    }

    /// Statements `run` and `query` prepared, kept for the connection's life: a trace writes the
    /// same few statements thousands of times, every run asks the same queries, and preparing a
    /// statement costs more than running it. Bounded, for SQL built from a filter's parts.
    private var prepared: [String: SQLiteStatement] = [:]
    private static let preparedLimit = 256

    /// The cached statements being stepped: a query run again from inside its own row mapping
    /// gets a statement of its own rather than resetting the one in use.
    private var stepping: Set<String> = []

    private func reusable(_ sql: String) throws -> SQLiteStatement {
        if !stepping.contains(sql), let cached = prepared[sql] { return cached }
        let statement = try prepare(sql)
        if prepared[sql] == nil, prepared.count < Self.preparedLimit { prepared[sql] = statement }
        return statement
    }

    private func stepping<T>(_ sql: String, _ body: () throws -> T) rethrows -> T {
        let outermost = stepping.insert(sql).inserted
        defer { if outermost { stepping.remove(sql) } }
        return try body()
    }

    /// Runs a statement that returns no rows.
    func run(_ sql: String, _ values: [SQLiteValue] = []) throws {
        let statement = try reusable(sql)
        try statement.bind(values)
        // Reset even on failure, so the cached statement holds no lock and no half-done state.
        defer { statement.reset() }
        while try statement.step() {}
    }

    /// Runs a query through a statement kept like `run`'s: `body` sees each row while it is current
    /// (a search reads its rows without collecting them first).
    func forEachRow(_ sql: String, _ values: [SQLiteValue] = [], _ body: (SQLiteStatement) throws -> Void) throws {
        let statement = try reusable(sql)
        try statement.bind(values)
        defer { statement.reset() }
        try stepping(sql) {
            while try statement.step() { try body(statement) }
        }
    }

    /// Whether a transaction is open. SQLite rolls the whole transaction back by itself after
    /// some errors (a full disk, an I/O error), and this is how a caller learns it did.
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs a query and maps every row.
    func query<T>(_ sql: String, _ values: [SQLiteValue] = [], row: (SQLiteStatement) throws -> T) throws -> [T] {
        let statement = try reusable(sql)
        // Reset even on failure, so the cached statement holds no read lock between queries.
        defer { statement.reset() }
        try statement.bind(values)
        return try stepping(sql) {
            var rows: [T] = []
            while try statement.step() { rows.append(try row(statement)) }
            return rows
        }
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
}

/// A prepared statement; finalised when released.
final class SQLiteStatement {
    private let handle: OpaquePointer
    /// Unowned: the connection keeps the statements `run` and `query` cache, and outlives every other.
    private unowned let connection: SQLiteConnection

    fileprivate init(handle: OpaquePointer, connection: SQLiteConnection) { self.handle = handle; self.connection = connection }

    deinit { sqlite3_finalize(handle) }

    func reset() { sqlite3_reset(handle) }

    /// Binds `values` to parameters 1...n, after resetting the statement for reuse.
    func bind(_ values: [SQLiteValue]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(handle, index)
            case .integer(let n): status = sqlite3_bind_int64(handle, index, n)
            case .real(let x): status = sqlite3_bind_double(handle, index, x)
            case .text(let s):
                // Bound with its byte length, not as a C string, so a NUL inside the text is kept.
                var text = s
                status = text.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { chars in
                        // An empty buffer may have no address; SQLite needs one even for zero bytes.
                        sqlite3_bind_text64(handle, index, chars.baseAddress ?? UnsafePointer(bitPattern: 1), sqlite3_uint64(chars.count),
                                            sluice_sqlite_transient(), UInt8(SQLITE_UTF8))
                    }
                }
            }
            guard status == SQLITE_OK else { throw connection.error(status, "cannot bind parameter \(index)") }
        }
    }

    /// Advances to the next row: true when a row is available, false when the statement is done.
    func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let status:
            let sql = sqlite3_sql(handle).map { String(cString: $0) } ?? "a statement"
            throw connection.error(status, "cannot run \(sql.prefix(80))")
        }
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }
    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
    func optionalDouble(_ column: Int32) -> Double? { isNull(column) ? nil : double(column) }
    func optionalInt(_ column: Int32) -> Int? { isNull(column) ? nil : int(column) }
}
