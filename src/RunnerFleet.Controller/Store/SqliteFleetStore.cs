using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace RunnerFleet.Controller.Store;

/// <summary>The embedded store: one SQLite file in WAL mode, schema by versioned migrations.</summary>
internal sealed class SqliteFleetStore(string connectionString, TimeProvider time) : SqlFleetStore(time)
{
    /// <summary>Each entry is one schema version; append, never edit.</summary>
    internal static readonly string[] Schema =
    [
        """
        CREATE TABLE runners (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            pool TEXT NOT NULL,
            provider TEXT NOT NULL,
            scope TEXT NOT NULL,
            state TEXT NOT NULL,
            provider_resource_id TEXT,
            provider_endpoint TEXT,
            github_runner_id INTEGER,
            job_id INTEGER,
            requested_at INTEGER NOT NULL,
            created_at INTEGER,
            online_at INTEGER,
            busy_at INTEGER,
            completed_at INTEGER,
            destroyed_at INTEGER,
            failure_reason TEXT,
            cost TEXT NOT NULL DEFAULT '0',
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX ix_runners_state ON runners(state);
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL,
            repository TEXT NOT NULL,
            name TEXT,
            labels TEXT NOT NULL,
            status INTEGER NOT NULL,
            pool TEXT,
            scope TEXT,
            runner_name TEXT,
            conclusion TEXT,
            queued_at INTEGER,
            started_at INTEGER,
            completed_at INTEGER,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX ix_jobs_status ON jobs(status);
        CREATE TABLE runner_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            runner_id TEXT NOT NULL,
            runner_name TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX ix_runner_events_runner ON runner_events(runner_id);
        """,
        """
        ALTER TABLE runners ADD COLUMN hourly_price TEXT;
        """,
        """
        CREATE TABLE webhook_deliveries (id TEXT PRIMARY KEY, at INTEGER NOT NULL);
        CREATE INDEX ix_webhook_deliveries_at ON webhook_deliveries(at);
        """,
        """
        ALTER TABLE jobs ADD COLUMN refusal TEXT;
        """,
        """
        ALTER TABLE runners ADD COLUMN trace_parent TEXT;
        """,
        """
        CREATE TABLE pool_drains (pool TEXT PRIMARY KEY, at INTEGER NOT NULL);
        """,
        """
        ALTER TABLE runners ADD COLUMN owner TEXT;
        CREATE TABLE controller_nodes (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
        """,
        """
        CREATE TABLE scale_set_jobs (job_id TEXT PRIMARY KEY, pool TEXT NOT NULL, repository TEXT NOT NULL, name TEXT, state INTEGER NOT NULL,
            runner_name TEXT, result TEXT, assignments INTEGER NOT NULL, queued_at INTEGER, started_at INTEGER, completed_at INTEGER, updated_at INTEGER NOT NULL);
        CREATE INDEX ix_scale_set_jobs_updated ON scale_set_jobs(updated_at);
        CREATE TABLE pool_targets (pool TEXT PRIMARY KEY, assigned INTEGER NOT NULL, desired INTEGER NOT NULL, at INTEGER NOT NULL);
        """,
        // The planner's view of the live runners reads only what changed since its last read (ActiveRunnerView).
        """
        CREATE INDEX ix_runners_updated ON runners(updated_at);
        """,
        // Machines billed by the hour: when billing began (Hetzner bills each started hour), and the runner whose machine
        // was rebuilt for this one within its paid hour.
        """
        ALTER TABLE runners ADD COLUMN billed_since INTEGER;
        ALTER TABLE runners ADD COLUMN previous_runner TEXT;
        """,
    ];

    protected override IReadOnlyList<string> Migrations => Schema;

    protected override string PrepareSql => "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);";

    private int _fileSecured;

    protected override async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _fileSecured, 1) == 0)
        {
            SecureFile(connectionString);
        }

        var c = new SqliteConnection(connectionString);
        await c.OpenAsync(ct).ConfigureAwait(false);
        await ExecAsync(c, "PRAGMA busy_timeout=10000; PRAGMA synchronous=NORMAL;", ct).ConfigureAwait(false);
        return c;
    }

    /// <summary>
    /// The database holds the fleet's records and delivery ids: it is created readable and writable by the
    /// controller's user only (0600), and an existing one is tightened to that; SQLite gives its WAL and
    /// shared-memory files the database file's mode.
    /// </summary>
    internal static void SecureFile(string connectionString)
    {
        var path = new SqliteConnectionStringBuilder(connectionString).DataSource;
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() || string.IsNullOrEmpty(path) || path == ":memory:" || path.StartsWith("file:", StringComparison.Ordinal))
        {
            return;
        }

        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (!File.Exists(path))
        {
            using (File.Create(path))
            {
            }
        }

        File.SetUnixFileMode(path, owner);
    }
}
