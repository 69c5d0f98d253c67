using System.Data;
using System.Data.Common;
using Npgsql;

namespace RunnerFleet.Controller.Store;

/// <summary>
/// The shared store: PostgreSQL, for several controllers on one fleet. The same rows as SQLite; migrations
/// and job upserts are serialized with advisory locks, so two controllers never migrate at once and never
/// merge the same job from stale reads.
/// </summary>
public sealed class PostgresFleetStore(string connectionString, TimeProvider time) : SqlFleetStore(time), IDisposable
{
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
            github_runner_id BIGINT,
            job_id BIGINT,
            requested_at BIGINT NOT NULL,
            created_at BIGINT,
            online_at BIGINT,
            busy_at BIGINT,
            completed_at BIGINT,
            destroyed_at BIGINT,
            failure_reason TEXT,
            cost TEXT NOT NULL DEFAULT '0',
            hourly_price TEXT,
            trace_parent TEXT,
            updated_at BIGINT NOT NULL
        );
        CREATE INDEX ix_runners_state ON runners(state);
        CREATE TABLE jobs (
            id BIGINT PRIMARY KEY,
            run_id BIGINT NOT NULL,
            repository TEXT NOT NULL,
            name TEXT,
            labels TEXT NOT NULL,
            status INTEGER NOT NULL,
            pool TEXT,
            scope TEXT,
            runner_name TEXT,
            conclusion TEXT,
            queued_at BIGINT,
            started_at BIGINT,
            completed_at BIGINT,
            refusal TEXT,
            updated_at BIGINT NOT NULL
        );
        CREATE INDEX ix_jobs_status ON jobs(status);
        CREATE INDEX ix_jobs_runner_name ON jobs(runner_name);
        CREATE TABLE runner_events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at BIGINT NOT NULL,
            runner_id TEXT NOT NULL,
            runner_name TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX ix_runner_events_runner ON runner_events(runner_id);
        CREATE TABLE webhook_deliveries (id TEXT PRIMARY KEY, at BIGINT NOT NULL);
        CREATE INDEX ix_webhook_deliveries_at ON webhook_deliveries(at);
        """,
    ];

    // Advisory lock keys: (class, object) pairs never collide with the single-key job locks.
    private const string SchemaLock = "1381, 1";

    private readonly NpgsqlDataSource _source = NpgsqlDataSource.Create(connectionString);

    protected override IReadOnlyList<string> Migrations => Schema;

    protected override string PrepareSql =>
        $"SELECT pg_advisory_lock({SchemaLock}); CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL); SELECT pg_advisory_unlock({SchemaLock});";

    protected override string MigrationLockSql => $"SELECT pg_advisory_xact_lock({SchemaLock})";

    protected override string JobLockSql => "SELECT pg_advisory_xact_lock(@id)";

    protected override IsolationLevel JobIsolation => IsolationLevel.ReadCommitted;

    protected override async Task<DbConnection> OpenAsync(CancellationToken ct) => await _source.OpenConnectionAsync(ct).ConfigureAwait(false);

    public void Dispose() => _source.Dispose();
}
