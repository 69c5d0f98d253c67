using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Store;

/// <summary>The embedded store: one SQLite file in WAL mode, schema by versioned migrations.</summary>
public sealed class SqliteFleetStore(string connectionString, TimeProvider time) : IFleetStore
{
    /// <summary>Each entry is one schema version; append, never edit.</summary>
    internal static readonly string[] Migrations =
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
    ];

    private const string RunnerColumns = "id, name, pool, provider, scope, state, provider_resource_id, provider_endpoint, github_runner_id, job_id, requested_at, created_at, online_at, busy_at, completed_at, destroyed_at, failure_reason, cost, hourly_price, trace_parent";
    private const string JobColumns = "id, run_id, repository, name, labels, status, pool, scope, runner_name, conclusion, queued_at, started_at, completed_at, refusal";

    public async Task InitializeAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await ExecAsync(c, "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);", ct).ConfigureAwait(false);
        await using var read = c.CreateCommand();
        read.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
        var current = Convert.ToInt32(await read.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
        for (var v = current; v < Migrations.Length; v++)
        {
            await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
            await ExecAsync(c, Migrations[v], ct, tx).ConfigureAwait(false);
            await ExecAsync(c, $"INSERT INTO schema_version(version) VALUES ({v + 1})", ct, tx).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
        }
    }

    public async Task InsertRunnerAsync(RunnerRecord r, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = (SqliteTransaction)tx;
            cmd.CommandText = $"INSERT INTO runners ({RunnerColumns}, updated_at) VALUES (@id, @name, @pool, @provider, @scope, @state, @rid, @endpoint, @ghid, @job, @requested, @created, @online, @busy, @completed, @destroyed, @reason, @cost, @hourly, @trace, @now)";
            BindRunner(cmd, r);
            cmd.Parameters.AddWithValue("@trace", (object?)r.TraceParent ?? DBNull.Value);
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await AppendEventAsync(c, tx, r, null, "requested", ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    public async Task<bool> TransitionAsync(RunnerRecord updated, RunnerState expected, string? detail, CancellationToken ct)
    {
        if (!RunnerStateMachine.CanTransition(expected, updated.State))
        {
            throw new InvalidOperationException($"Illegal runner transition {expected} -> {updated.State} for {updated.Name}");
        }

        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = (SqliteTransaction)tx;
            cmd.CommandText = """
                UPDATE runners SET state=@state, provider_resource_id=@rid, provider_endpoint=@endpoint, github_runner_id=@ghid, job_id=@job,
                  created_at=@created, online_at=@online, busy_at=@busy, completed_at=@completed, destroyed_at=@destroyed,
                  failure_reason=@reason, cost=@cost, hourly_price=@hourly, updated_at=@now
                WHERE id=@id AND state=@expected
                """;
            BindRunner(cmd, updated);
            cmd.Parameters.AddWithValue("@expected", expected.ToString());
            if (await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
            {
                return false;
            }
        }

        await AppendEventAsync(c, tx, updated, expected, detail, ct).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return true;
    }

    public async Task UpdateRunnerAsync(RunnerRecord r, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = """
            UPDATE runners SET provider_resource_id=@rid, provider_endpoint=@endpoint, github_runner_id=@ghid, job_id=@job,
              created_at=@created, online_at=@online, busy_at=@busy, completed_at=@completed, destroyed_at=@destroyed,
              failure_reason=@reason, cost=@cost, hourly_price=@hourly, updated_at=@now
            WHERE id=@id
            """;
        BindRunner(cmd, r);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public Task<RunnerRecord?> GetRunnerAsync(string id, CancellationToken ct) => SingleRunnerAsync("id=@v", id, ct);

    public Task<RunnerRecord?> FindRunnerByNameAsync(string name, CancellationToken ct) => SingleRunnerAsync("name=@v", name, ct);

    public Task<IReadOnlyList<RunnerRecord>> ListActiveRunnersAsync(CancellationToken ct) =>
        QueryRunnersAsync($"SELECT {RunnerColumns} FROM runners WHERE state NOT IN ('Gone','Failed') ORDER BY requested_at", null, ct);

    public Task<IReadOnlyList<RunnerRecord>> ListRunnersAsync(int limit, CancellationToken ct) =>
        QueryRunnersAsync($"SELECT {RunnerColumns} FROM runners ORDER BY requested_at DESC LIMIT {limit}", null, ct);

    public Task<IReadOnlyList<RunnerRecord>> ListUnattributedSinceAsync(DateTimeOffset since, CancellationToken ct) =>
        QueryRunnersAsync($"SELECT {RunnerColumns} FROM runners WHERE state='Gone' AND job_id IS NULL AND completed_at >= {since.ToUnixTimeMilliseconds()}", null, ct);

    public async Task<bool> TryRecordDeliveryAsync(string deliveryId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        await using var cmd = c.CreateCommand();
        // GitHub redelivers for at most a few days; a week of ids is plenty and keeps the table small.
        cmd.CommandText = "DELETE FROM webhook_deliveries WHERE at < @old; INSERT OR IGNORE INTO webhook_deliveries(id, at) VALUES (@id, @now);";
        cmd.Parameters.AddWithValue("@old", now.AddDays(-7).ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("@id", deliveryId);
        cmd.Parameters.AddWithValue("@now", now.ToUnixTimeMilliseconds());
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
    }

    public async Task<IReadOnlyDictionary<string, decimal>> CostByPoolAsync(DateTimeOffset since, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT pool, cost FROM runners WHERE requested_at >= @since AND cost <> '0'";
        cmd.Parameters.AddWithValue("@since", since.ToUnixTimeMilliseconds());
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var sums = new Dictionary<string, decimal>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            // Summed here, not in SQL: cost is stored as exact decimal text.
            sums[reader.GetString(0)] = sums.GetValueOrDefault(reader.GetString(0)) + decimal.Parse(reader.GetString(1), CultureInfo.InvariantCulture);
        }

        return sums;
    }

    public async Task<JobChange> UpsertJobAsync(JobRecord job, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, ct).ConfigureAwait(false);
        JobRecord? existing;
        await using (var read = c.CreateCommand())
        {
            read.Transaction = (SqliteTransaction)tx;
            read.CommandText = $"SELECT {JobColumns} FROM jobs WHERE id=@id";
            read.Parameters.AddWithValue("@id", job.Id);
            await using var reader = await read.ExecuteReaderAsync(ct).ConfigureAwait(false);
            existing = await reader.ReadAsync(ct).ConfigureAwait(false) ? ReadJob(reader) : null;
        }

        var merged = existing is null ? job : existing with
        {
            Status = job.Status > existing.Status ? job.Status : existing.Status,
            RunnerName = existing.RunnerName ?? job.RunnerName,
            Conclusion = job.Conclusion ?? existing.Conclusion,
            StartedAt = existing.StartedAt ?? job.StartedAt,
            CompletedAt = existing.CompletedAt ?? job.CompletedAt,
            // A refused job keeps its refusal and stays without a pool, whatever a later observation says.
            Refusal = existing.Refusal ?? job.Refusal,
            Pool = (existing.Refusal ?? job.Refusal) is not null ? null : existing.Pool ?? job.Pool,
            Scope = existing.Scope ?? job.Scope,
            QueuedAt = existing.QueuedAt ?? job.QueuedAt,
        };
        var changed = existing is null || merged != existing;
        if (changed)
        {
            await using var write = c.CreateCommand();
            write.Transaction = (SqliteTransaction)tx;
            write.CommandText = $"""
                INSERT INTO jobs ({JobColumns}, updated_at) VALUES (@id, @run, @repo, @name, @labels, @status, @pool, @scope, @runner, @conclusion, @queued, @started, @completed, @refusal, @now)
                ON CONFLICT(id) DO UPDATE SET status=excluded.status, pool=excluded.pool, scope=excluded.scope, runner_name=excluded.runner_name,
                  conclusion=excluded.conclusion, queued_at=excluded.queued_at, started_at=excluded.started_at, completed_at=excluded.completed_at, refusal=excluded.refusal, updated_at=excluded.updated_at
                """;
            var p = write.Parameters;
            p.AddWithValue("@id", merged.Id);
            p.AddWithValue("@run", merged.RunId);
            p.AddWithValue("@repo", merged.Repository);
            p.AddWithValue("@name", (object?)merged.Name ?? DBNull.Value);
            p.AddWithValue("@labels", string.Join('\n', merged.Labels));
            p.AddWithValue("@status", (int)merged.Status);
            p.AddWithValue("@pool", (object?)merged.Pool ?? DBNull.Value);
            p.AddWithValue("@scope", (object?)merged.Scope ?? DBNull.Value);
            p.AddWithValue("@runner", (object?)merged.RunnerName ?? DBNull.Value);
            p.AddWithValue("@conclusion", (object?)merged.Conclusion ?? DBNull.Value);
            p.AddWithValue("@queued", Ms(merged.QueuedAt));
            p.AddWithValue("@started", Ms(merged.StartedAt));
            p.AddWithValue("@completed", Ms(merged.CompletedAt));
            p.AddWithValue("@refusal", (object?)merged.Refusal ?? DBNull.Value);
            p.AddWithValue("@now", time.GetUtcNow().ToUnixTimeMilliseconds());
            await write.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        return new JobChange(existing is null, changed, merged);
    }

    public async Task<IReadOnlyList<JobRecord>> ListJobsAsync(JobStatus? status, int limit, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = status is null
            ? $"SELECT {JobColumns} FROM jobs ORDER BY id DESC LIMIT {limit}"
            : $"SELECT {JobColumns} FROM jobs WHERE status=@s ORDER BY id LIMIT {limit}";
        cmd.Parameters.AddWithValue("@s", (int)(status ?? 0));
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<JobRecord>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            list.Add(ReadJob(reader));
        }

        return list;
    }

    public async Task<JobRecord?> FindJobByRunnerAsync(string runnerName, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {JobColumns} FROM jobs WHERE runner_name=@name ORDER BY id DESC LIMIT 1";
        cmd.Parameters.AddWithValue("@name", runnerName);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await reader.ReadAsync(ct).ConfigureAwait(false) ? ReadJob(reader) : null;
    }

    public async Task<IReadOnlyList<RunnerEvent>> ListEventsAsync(string runnerId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT seq, at, runner_id, runner_name, from_state, to_state, detail FROM runner_events WHERE runner_id=@id ORDER BY seq";
        cmd.Parameters.AddWithValue("@id", runnerId);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<RunnerEvent>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            list.Add(new RunnerEvent(reader.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : Enum.Parse<RunnerState>(reader.GetString(4)), Enum.Parse<RunnerState>(reader.GetString(5)), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return list;
    }

    // ---------------------------------------------------------------- helpers

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(connectionString);
        await c.OpenAsync(ct).ConfigureAwait(false);
        await ExecAsync(c, "PRAGMA busy_timeout=10000; PRAGMA synchronous=NORMAL;", ct).ConfigureAwait(false);
        return c;
    }

    private static async Task ExecAsync(SqliteConnection c, string sql, CancellationToken ct, DbTransaction? tx = null)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = (SqliteTransaction?)tx;
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private async Task AppendEventAsync(SqliteConnection c, DbTransaction tx, RunnerRecord r, RunnerState? from, string? detail, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = (SqliteTransaction)tx;
        cmd.CommandText = "INSERT INTO runner_events (at, runner_id, runner_name, from_state, to_state, detail) VALUES (@at, @id, @name, @from, @to, @detail)";
        cmd.Parameters.AddWithValue("@at", time.GetUtcNow().ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("@id", r.Id);
        cmd.Parameters.AddWithValue("@name", r.Name);
        cmd.Parameters.AddWithValue("@from", (object?)from?.ToString() ?? DBNull.Value);
        cmd.Parameters.AddWithValue("@to", r.State.ToString());
        cmd.Parameters.AddWithValue("@detail", (object?)detail ?? DBNull.Value);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private void BindRunner(SqliteCommand cmd, RunnerRecord r)
    {
        var p = cmd.Parameters;
        p.AddWithValue("@id", r.Id);
        p.AddWithValue("@name", r.Name);
        p.AddWithValue("@pool", r.Pool);
        p.AddWithValue("@provider", r.Provider);
        p.AddWithValue("@scope", r.Scope);
        p.AddWithValue("@state", r.State.ToString());
        p.AddWithValue("@rid", (object?)r.ProviderResourceId ?? DBNull.Value);
        p.AddWithValue("@endpoint", (object?)r.ProviderEndpoint ?? DBNull.Value);
        p.AddWithValue("@ghid", (object?)r.GitHubRunnerId ?? DBNull.Value);
        p.AddWithValue("@job", (object?)r.JobId ?? DBNull.Value);
        p.AddWithValue("@requested", r.RequestedAt.ToUnixTimeMilliseconds());
        p.AddWithValue("@created", Ms(r.CreatedAt));
        p.AddWithValue("@online", Ms(r.OnlineAt));
        p.AddWithValue("@busy", Ms(r.BusyAt));
        p.AddWithValue("@completed", Ms(r.CompletedAt));
        p.AddWithValue("@destroyed", Ms(r.DestroyedAt));
        p.AddWithValue("@reason", (object?)r.FailureReason ?? DBNull.Value);
        p.AddWithValue("@cost", r.Cost.ToString(CultureInfo.InvariantCulture));
        p.AddWithValue("@hourly", (object?)r.HourlyPrice?.ToString(CultureInfo.InvariantCulture) ?? DBNull.Value);
        p.AddWithValue("@now", time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    private async Task<RunnerRecord?> SingleRunnerAsync(string where, string value, CancellationToken ct) =>
        (await QueryRunnersAsync($"SELECT {RunnerColumns} FROM runners WHERE {where}", value, ct).ConfigureAwait(false)).FirstOrDefault();

    private async Task<IReadOnlyList<RunnerRecord>> QueryRunnersAsync(string sql, string? value, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        if (value is not null)
        {
            cmd.Parameters.AddWithValue("@v", value);
        }

        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<RunnerRecord>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            list.Add(new RunnerRecord
            {
                Id = reader.GetString(0),
                Name = reader.GetString(1),
                Pool = reader.GetString(2),
                Provider = reader.GetString(3),
                Scope = reader.GetString(4),
                State = Enum.Parse<RunnerState>(reader.GetString(5)),
                ProviderResourceId = reader.IsDBNull(6) ? null : reader.GetString(6),
                ProviderEndpoint = reader.IsDBNull(7) ? null : reader.GetString(7),
                GitHubRunnerId = reader.IsDBNull(8) ? null : reader.GetInt64(8),
                JobId = reader.IsDBNull(9) ? null : reader.GetInt64(9),
                RequestedAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(10)),
                CreatedAt = Time(reader, 11),
                OnlineAt = Time(reader, 12),
                BusyAt = Time(reader, 13),
                CompletedAt = Time(reader, 14),
                DestroyedAt = Time(reader, 15),
                FailureReason = reader.IsDBNull(16) ? null : reader.GetString(16),
                Cost = decimal.Parse(reader.GetString(17), CultureInfo.InvariantCulture),
                HourlyPrice = reader.IsDBNull(18) ? null : decimal.Parse(reader.GetString(18), CultureInfo.InvariantCulture),
                TraceParent = reader.IsDBNull(19) ? null : reader.GetString(19),
            });
        }

        return list;
    }

    private static JobRecord ReadJob(DbDataReader reader) => new()
    {
        Id = reader.GetInt64(0),
        RunId = reader.GetInt64(1),
        Repository = reader.GetString(2),
        Name = reader.IsDBNull(3) ? null : reader.GetString(3),
        Labels = reader.GetString(4).Split('\n', StringSplitOptions.RemoveEmptyEntries),
        Status = (JobStatus)reader.GetInt32(5),
        Pool = reader.IsDBNull(6) ? null : reader.GetString(6),
        Scope = reader.IsDBNull(7) ? null : reader.GetString(7),
        RunnerName = reader.IsDBNull(8) ? null : reader.GetString(8),
        Conclusion = reader.IsDBNull(9) ? null : reader.GetString(9),
        QueuedAt = Time(reader, 10),
        StartedAt = Time(reader, 11),
        CompletedAt = Time(reader, 12),
        Refusal = reader.IsDBNull(13) ? null : reader.GetString(13),
    };

    private static DateTimeOffset? Time(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(i));

    private static object Ms(DateTimeOffset? t) => t is { } v ? v.ToUnixTimeMilliseconds() : DBNull.Value;
}
