/// The store's tables, created and upgraded by numbered migrations recorded in `schema_version`.
enum StoreSchema {
    /// Migration N (1-based) brings the schema from version N-1 to N. Append; never edit a shipped one.
    static let migrations: [String] = [
        """
        CREATE TABLE runs (
            id          TEXT PRIMARY KEY,
            pipeline    TEXT NOT NULL,
            file        TEXT NOT NULL,
            started_at  REAL NOT NULL,
            ended_at    REAL,
            status      TEXT NOT NULL,            -- running, ok, error, blocked
            inputs      TEXT NOT NULL,            -- JSON
            output      TEXT,                     -- JSON
            error       TEXT,
            cost        REAL NOT NULL DEFAULT 0,
            tokens      INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX runs_by_start ON runs (started_at DESC);

        CREATE TABLE spans (
            seq         INTEGER PRIMARY KEY,      -- insertion order
            id          TEXT NOT NULL UNIQUE,
            run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            parent_id   TEXT,
            kind        TEXT NOT NULL,
            name        TEXT NOT NULL,
            started_at  REAL NOT NULL,
            ended_at    REAL,
            status      TEXT,                     -- ok, error; NULL while running
            detail      TEXT                      -- JSON
        );
        CREATE INDEX spans_by_run ON spans (run_id, seq);

        CREATE TABLE model_calls (
            seq           INTEGER PRIMARY KEY,
            run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            span_id       TEXT NOT NULL,
            model         TEXT NOT NULL,
            provider      TEXT NOT NULL,
            messages      TEXT NOT NULL,          -- JSON array of {role, content}
            reply         TEXT,
            input_tokens  INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cached_tokens INTEGER NOT NULL,
            cost          REAL NOT NULL,
            latency_ms    REAL NOT NULL,
            error         TEXT,
            attempt       INTEGER NOT NULL
        );
        CREATE INDEX model_calls_by_run ON model_calls (run_id, seq);

        CREATE TABLE guard_verdicts (
            seq         INTEGER PRIMARY KEY,
            run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            span_id     TEXT NOT NULL,
            guard_name  TEXT NOT NULL,
            pattern     TEXT,
            verdict     TEXT NOT NULL,            -- pass, blocked, redacted, flagged
            matches     INTEGER NOT NULL
        );
        CREATE INDEX guard_verdicts_by_run ON guard_verdicts (run_id, seq);

        CREATE TABLE scores (
            seq         INTEGER PRIMARY KEY,
            run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            span_id     TEXT,
            name        TEXT NOT NULL,
            value       REAL NOT NULL
        );
        CREATE INDEX scores_by_run ON scores (run_id, seq);

        CREATE TABLE retrieval_indexes (
            name        TEXT PRIMARY KEY
        );

        CREATE TABLE documents (
            id          INTEGER PRIMARY KEY,
            index_name  TEXT NOT NULL REFERENCES retrieval_indexes (name) ON DELETE CASCADE,
            source      TEXT NOT NULL,
            UNIQUE (index_name, source)
        );

        CREATE TABLE chunks (
            id          INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
            ordinal     INTEGER NOT NULL,
            text        TEXT NOT NULL
        );
        CREATE INDEX chunks_by_document ON chunks (document_id, ordinal);

        CREATE VIRTUAL TABLE chunks_fts USING fts5 (
            text, content = 'chunks', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER chunks_indexed AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_unindexed AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        """,
        """
        CREATE TABLE sessions (
            id          TEXT PRIMARY KEY,
            created_at  REAL NOT NULL,
            updated_at  REAL NOT NULL,
            summary     TEXT,
            summary_through INTEGER NOT NULL DEFAULT 0   -- the last turn seq the summary covers
        );
        CREATE TABLE session_turns (
            session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL,
            role        TEXT NOT NULL,                    -- user, assistant
            content     TEXT NOT NULL,
            created_at  REAL NOT NULL,
            PRIMARY KEY (session_id, seq)
        );
        """,
        """
        -- What an index was built from and how, so a changed source or chunk size is noticed.
        ALTER TABLE retrieval_indexes ADD COLUMN built_from TEXT;      -- 'source' (a script's `source`), 'files' (`sluice index add`); NULL before version 3
        ALTER TABLE retrieval_indexes ADD COLUMN source TEXT;          -- the absolute file or folder, when built_from = 'source'
        ALTER TABLE retrieval_indexes ADD COLUMN chunk_tokens INTEGER;
        ALTER TABLE retrieval_indexes ADD COLUMN overlap_tokens INTEGER;
        ALTER TABLE documents ADD COLUMN content_hash TEXT;            -- SHA-256 of the file's bytes when indexed

        -- Shown by `sluice traces show`; filled in by the runtime.
        ALTER TABLE model_calls ADD COLUMN prompt_version INTEGER;
        ALTER TABLE model_calls ADD COLUMN prompt_meta TEXT;           -- JSON
        ALTER TABLE model_calls ADD COLUMN warnings TEXT;              -- JSON array of strings; NULL when none

        -- Request features an endpoint refused (HTTP 400/422), so later processes do not pay the failed call again.
        CREATE TABLE endpoint_features (
            endpoint    TEXT NOT NULL,                    -- base URL and model id
            feature     TEXT NOT NULL,                    -- e.g. response_format
            noted_at    REAL NOT NULL,
            PRIMARY KEY (endpoint, feature)
        );

        -- Lines of a --replies file already answered in a session, so a later run of it takes the next ones.
        CREATE TABLE session_replies (
            session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            replies     TEXT NOT NULL,                    -- SHA-256 of the replies file's content
            line        INTEGER NOT NULL,
            PRIMARY KEY (session_id, replies, line)
        );
        """,
        """
        -- The process that writes a run (see RunOwner), so a run whose process died is reported `interrupted`.
        -- Run statuses: running, ok, error, blocked, cancelled (stopped by a signal), interrupted (its process died).
        ALTER TABLE runs ADD COLUMN owner_host TEXT;
        ALTER TABLE runs ADD COLUMN owner_boot TEXT;                   -- /proc/sys/kernel/random/boot_id
        ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
        ALTER TABLE runs ADD COLUMN owner_start INTEGER;               -- clock ticks from boot to the process's start
        CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

        -- A model call is written when it is sent (status in_flight) and completed when it ends.
        ALTER TABLE model_calls ADD COLUMN call_id TEXT;               -- pairs the start with its completion; NULL for a row written once
        ALTER TABLE model_calls ADD COLUMN status TEXT;                -- in_flight, ok, error, cancelled, interrupted; NULL before version 4
        CREATE UNIQUE INDEX model_calls_by_call ON model_calls (call_id) WHERE call_id IS NOT NULL;
        """,
        """
        -- Who a run is for (`--user ID`) and the conversation it continues (`--session ID`).
        ALTER TABLE runs ADD COLUMN user_id TEXT;
        ALTER TABLE runs ADD COLUMN session_id TEXT;
        CREATE INDEX runs_by_user ON runs (user_id, started_at) WHERE user_id IS NOT NULL;
        CREATE INDEX runs_by_session ON runs (session_id, started_at) WHERE session_id IS NOT NULL;
        """,
        """
        -- Circuit breakers and client-side rate limits shared by every process using this store (see ProviderCoordination).
        CREATE TABLE provider_breakers (
            endpoint    TEXT PRIMARY KEY,                 -- provider, base URL and model id
            failures    INTEGER NOT NULL,                 -- consecutive failed tries that said the endpoint is unwell
            opened_at   REAL,                             -- when the circuit opened; NULL while closed
            trial_until REAL,                             -- the lease of a half-open circuit's trial call in flight
            last_error  TEXT NOT NULL
        );
        CREATE TABLE provider_rate_slots (
            seq         INTEGER PRIMARY KEY,
            endpoint    TEXT NOT NULL,
            at          REAL NOT NULL,                    -- when the try starts (or started)
            tokens      INTEGER NOT NULL                  -- its prompt and max tokens
        );
        CREATE INDEX provider_rate_slots_by_endpoint ON provider_rate_slots (endpoint, at);

        -- Alerts that fired (see AlertEvaluator); one per alert, pipeline and scope per window, across processes.
        CREATE TABLE alerts (
            seq         INTEGER PRIMARY KEY,
            alert       TEXT NOT NULL,                    -- the alert's declared name
            pipeline    TEXT NOT NULL,
            scope       TEXT NOT NULL,                    -- '' for the pipeline's runs; a budget window's key (e.g. user_day cust-42 2026-12-01)
            condition   TEXT NOT NULL,                    -- as declared, e.g. error_rate > 5% over 10m
            observed    REAL NOT NULL,                    -- in the metric's unit: dollars, a fraction (0.12 for 12%), seconds, tokens
            observed_text TEXT NOT NULL,                  -- as shown, e.g. 12.5%
            window_seconds REAL,                          -- NULL for a budget alert (the budget's own window)
            run_id      TEXT NOT NULL,                    -- the run after which it was evaluated
            fired_at    REAL NOT NULL,
            notified    TEXT                              -- JSON: each target and what became of the notification
        );
        CREATE INDEX alerts_by_key ON alerts (alert, pipeline, scope, fired_at);
        CREATE INDEX alerts_by_time ON alerts (fired_at DESC);
        """,
        """
        -- The spend ledger: every model and embedding call's worst case, reserved before it is sent and
        -- settled at what it really cost, so budgets over windows of runs (`user_day`, `pipeline_day`,
        -- `day`, `session`) hold across processes. See SQLiteSpendLedger.swift.
        CREATE TABLE budget_reservations (
            id                INTEGER PRIMARY KEY,
            run_id            TEXT NOT NULL,
            created_at        REAL NOT NULL,
            day               TEXT NOT NULL,          -- UTC calendar day of created_at, yyyy-mm-dd
            user_id           TEXT,
            session_id        TEXT,
            pipeline          TEXT,
            reserved_dollars  REAL NOT NULL,
            reserved_tokens   INTEGER NOT NULL,
            status            TEXT NOT NULL,          -- reserved, settled, released (its process died or its lease ran out)
            spent_dollars     REAL,                   -- what the call really cost, once settled; above reserved_dollars: an overrun
            spent_tokens      INTEGER,
            settled_at        REAL,
            owner_host        TEXT NOT NULL,          -- the process holding the reservation (as on runs)
            owner_boot        TEXT NOT NULL,
            owner_pid         INTEGER NOT NULL,
            owner_start       INTEGER NOT NULL,
            lease_expires     REAL NOT NULL,
            released_because  TEXT
        );
        CREATE INDEX budget_reservations_open ON budget_reservations (lease_expires) WHERE status = 'reserved';
        CREATE INDEX budget_reservations_by_run ON budget_reservations (run_id);

        -- Each window's totals, kept in step with budget_reservations in the same transactions.
        CREATE TABLE budget_windows (
            kind              TEXT NOT NULL,          -- the window: user_day, pipeline_day, day, session
            subject           TEXT NOT NULL,          -- the user id, pipeline name or session id; '' for day
            day               TEXT NOT NULL,          -- yyyy-mm-dd; '' for session
            spent_dollars     REAL NOT NULL DEFAULT 0,
            spent_tokens      INTEGER NOT NULL DEFAULT 0,
            reserved_dollars  REAL NOT NULL DEFAULT 0,
            reserved_tokens   INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, subject, day)
        ) WITHOUT ROWID;
        """,
        """
        -- What a model call asked the provider and what it answered; NULL before version 8, and for what a try did not learn.
        ALTER TABLE model_calls ADD COLUMN request_model TEXT;         -- the provider's model id sent (the script's name is in `model`)
        ALTER TABLE model_calls ADD COLUMN max_tokens INTEGER;
        ALTER TABLE model_calls ADD COLUMN temperature REAL;           -- NULL too when the request left it to the provider
        ALTER TABLE model_calls ADD COLUMN response_model TEXT;        -- the model the server says answered
        ALTER TABLE model_calls ADD COLUMN finish_reason TEXT;         -- stop, length, content_filter, tool_calls, ...
        ALTER TABLE model_calls ADD COLUMN cache_write_tokens INTEGER; -- prompt tokens written to the provider's cache
        ALTER TABLE model_calls ADD COLUMN reasoning_tokens INTEGER;   -- of output_tokens, the hidden reasoning ones
        """,
    ]

    static var currentVersion: Int { migrations.count }

    /// The schema version a database records; nil when it has no `schema_version` table (a new
    /// file, or another program's).
    static func version(of database: SQLiteDatabase) throws -> Int? {
        try database.withConnection { db in
            let tables = try db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'") { $0.int(0) }
            guard !tables.isEmpty else { return nil }
            return try db.query("SELECT version FROM schema_version") { $0.int(0) }.first ?? 0
        }
    }

    /// Checks, without writing, that a database opened read-only can be read as it is.
    static func checkReadable(_ database: SQLiteDatabase) throws {
        guard let version = try version(of: database) else {
            throw StoreError("\(database.path) is not a sluice store (it has no schema_version table)")
        }
        guard version <= currentVersion else { throw tooNew(database, version) }
        guard version == currentVersion else {
            throw StoreError("the database \(database.path) has schema version \(version), older than this sluice's (\(currentVersion)), "
                             + "and reading it does not upgrade it: run a command that writes to it (e.g. `sluice run`) once first")
        }
    }

    private static func tooNew(_ database: SQLiteDatabase, _ version: Int) -> StoreError {
        StoreError("the database \(database.path) has schema version \(version), newer than this sluice understands (\(currentVersion)); upgrade sluice")
    }

    static func migrate(_ database: SQLiteDatabase) throws {
        // An up-to-date database is not written to, so opening one costs no write (and a read-only file can be opened).
        if try version(of: database) == currentVersion { return }
        try database.transaction { db in
            try db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            let recorded = try db.query("SELECT version FROM schema_version") { $0.int(0) }
            let version = recorded.first ?? 0
            if recorded.isEmpty { try db.run("INSERT INTO schema_version (version) VALUES (0)") }
            guard version <= currentVersion else { throw tooNew(database, version) }
            for next in version..<currentVersion {
                try db.exec(migrations[next])
                try db.run("UPDATE schema_version SET version = ?", [.int(next + 1)])
            }
        }
    }
}
