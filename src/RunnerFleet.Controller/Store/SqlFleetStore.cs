using System.Data;
using System.Data.Common;
using System.Globalization;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Store;

/// <summary>
/// The fleet store over ADO.NET: one implementation of <see cref="IFleetStore"/> for SQLite and PostgreSQL,
/// which differ only in how a connection is opened, their schema migrations, and how a job row is locked.
/// Timestamps are Unix milliseconds, money exact decimal text, states their names.
/// </summary>
internal abstract class SqlFleetStore(TimeProvider time) : IFleetStore
{
    /// <summary>Each entry is one schema version; append, never edit.</summary>
    protected abstract IReadOnlyList<string> Migrations { get; }

    /// <summary>Run before migrating (pragmas; the version table): in a transaction when <see cref="PrepareInTransaction"/>.</summary>
    protected abstract string PrepareSql { get; }

    /// <summary>Whether <see cref="PrepareSql"/> runs in a transaction (SQLite cannot switch to WAL inside one).</summary>
    protected virtual bool PrepareInTransaction => false;

    /// <summary>Run first inside each migration's transaction (PostgreSQL: a lock, so two controllers never migrate at once).</summary>
    protected virtual string? MigrationLockSql => null;

    /// <summary>Run first in <see cref="UpsertJobAsync"/>'s transaction with <c>@id</c> (PostgreSQL: an advisory lock on the job id).</summary>
    protected virtual string? JobLockSql => null;

    /// <summary>The isolation of <see cref="UpsertJobAsync"/>'s read-merge-write.</summary>
    protected virtual IsolationLevel JobIsolation => IsolationLevel.Serializable;

    protected abstract Task<DbConnection> OpenAsync(CancellationToken ct);


    private const string RunnerColumns = "id, name, pool, provider, scope, state, provider_resource_id, provider_endpoint, github_runner_id, job_id, requested_at, created_at, online_at, busy_at, completed_at, destroyed_at, failure_reason, cost, hourly_price, trace_parent, owner, billed_since, previous_runner";
    private const string JobColumns = "id, run_id, repository, name, labels, status, pool, scope, runner_name, conclusion, queued_at, started_at, completed_at, refusal";

    public async Task InitializeAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        if (PrepareInTransaction)
        {
            await using var prepare = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
            await ExecAsync(c, PrepareSql, ct, prepare).ConfigureAwait(false);
            await prepare.CommitAsync(ct).ConfigureAwait(false);
        }
        else
        {
            await ExecAsync(c, PrepareSql, ct).ConfigureAwait(false);
        }

        await using var read = c.CreateCommand();
        read.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
        var current = Convert.ToInt32(await read.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
        for (var v = current; v < Migrations.Count; v++)
        {
            await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
            if (MigrationLockSql is { } lockSql)
            {
                await ExecAsync(c, lockSql, ct, tx).ConfigureAwait(false);
                await using var again = c.CreateCommand();
                again.Transaction = tx;
                again.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
                if (Convert.ToInt32(await again.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture) > v)
                {
                    // Another controller migrated meanwhile.
                    await tx.CommitAsync(ct).ConfigureAwait(false);
                    continue;
                }
            }

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
            cmd.Transaction = tx;
            cmd.CommandText = $"INSERT INTO runners ({RunnerColumns}, updated_at) VALUES (@id, @name, @pool, @provider, @scope, @state, @rid, @endpoint, @ghid, @job, @requested, @created, @online, @busy, @completed, @destroyed, @reason, @cost, @hourly, @trace, @owner, @billed, @previous, @now)";
            BindRunner(cmd, r);
            Add(cmd, "@trace", (object?)r.TraceParent ?? DBNull.Value);
            Add(cmd, "@owner", (object?)r.Owner ?? DBNull.Value);
            Add(cmd, "@previous", (object?)r.PreviousRunner ?? DBNull.Value);
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
            cmd.Transaction = tx;
            cmd.CommandText = """
                UPDATE runners SET state=@state, provider_resource_id=@rid, provider_endpoint=@endpoint, github_runner_id=@ghid, job_id=@job,
                  created_at=@created, online_at=@online, busy_at=@busy, completed_at=@completed, destroyed_at=@destroyed,
                  failure_reason=@reason, cost=@cost, hourly_price=@hourly, billed_since=@billed, updated_at=@now
                WHERE id=@id AND state=@expected
                """;
            BindRunner(cmd, updated);
            Add(cmd, "@expected", expected.ToString());
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
              failure_reason=@reason, cost=@cost, hourly_price=@hourly, billed_since=@billed, updated_at=@now
            WHERE id=@id
            """;
        BindRunner(cmd, r);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public Task<RunnerRecord?> GetRunnerAsync(string id, CancellationToken ct) => SingleRunnerAsync("id=@v", id, ct);

    public Task<RunnerRecord?> FindRunnerByNameAsync(string name, CancellationToken ct) => SingleRunnerAsync("name=@v", name, ct);

    public Task<IReadOnlyList<RunnerRecord>> ListActiveRunnersAsync(CancellationToken ct) =>
        QueryRunnersAsync($"SELECT {RunnerColumns} FROM runners WHERE state NOT IN ('Gone','Failed') ORDER BY requested_at", null, ct);

    public Task<IReadOnlyList<RunnerRecord>> ListRunnersChangedSinceAsync(DateTimeOffset since, CancellationToken ct) =>
        QueryRunnersAsync($"SELECT {RunnerColumns} FROM runners WHERE updated_at >= {since.ToUnixTimeMilliseconds()}", null, ct);

    public Task<IReadOnlyList<RunnerRecord>> ListRunnersAsync(int limit, CancellationToken ct) =>
        QueryRunnersAsync($"SELECT {RunnerColumns} FROM runners ORDER BY requested_at DESC LIMIT {limit}", null, ct);

    public Task<IReadOnlyList<RunnerRecord>> ListUnattributedSinceAsync(DateTimeOffset since, CancellationToken ct) =>
        QueryRunnersAsync($"SELECT {RunnerColumns} FROM runners WHERE state='Gone' AND job_id IS NULL AND completed_at >= {since.ToUnixTimeMilliseconds()}", null, ct);

    public Task<IReadOnlyList<RunnerRecord>> ListGoneSinceAsync(DateTimeOffset since, CancellationToken ct) =>
        QueryRunnersAsync($"SELECT {RunnerColumns} FROM runners WHERE state='Gone' AND completed_at > {since.ToUnixTimeMilliseconds()}", null, ct);

    public async Task<bool> TryRecordDeliveryAsync(string deliveryId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        await using var cmd = c.CreateCommand();
        // GitHub redelivers for at most a few days; a week of ids is plenty and keeps the table small.
        cmd.CommandText = "DELETE FROM webhook_deliveries WHERE at < @old";
        Add(cmd, "@old", now.AddDays(-7).ToUnixTimeMilliseconds());
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        await using var insert = c.CreateCommand();
        insert.CommandText = "INSERT INTO webhook_deliveries(id, at) VALUES (@id, @now) ON CONFLICT(id) DO NOTHING";
        Add(insert, "@id", deliveryId);
        Add(insert, "@now", now.ToUnixTimeMilliseconds());
        return await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
    }

    public async Task ForgetDeliveryAsync(string deliveryId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "DELETE FROM webhook_deliveries WHERE id=@id";
        Add(cmd, "@id", deliveryId);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<string, int>> JobsByPoolAsync(DateTimeOffset since, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT pool, COUNT(*) FROM runners WHERE requested_at >= @since AND (job_id IS NOT NULL OR busy_at IS NOT NULL) GROUP BY pool";
        Add(cmd, "@since", since.ToUnixTimeMilliseconds());
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            counts[reader.GetString(0)] = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
        }

        return counts;
    }

    public async Task<IReadOnlyDictionary<string, decimal>> CostByPoolAsync(DateTimeOffset since, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT pool, cost FROM runners WHERE requested_at >= @since AND cost <> '0'";
        Add(cmd, "@since", since.ToUnixTimeMilliseconds());
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
        await using var tx = await c.BeginTransactionAsync(JobIsolation, ct).ConfigureAwait(false);
        if (JobLockSql is { } lockSql)
        {
            await using var jobLock = c.CreateCommand();
            jobLock.Transaction = tx;
            jobLock.CommandText = lockSql;
            Add(jobLock, "@id", job.Id);
            await jobLock.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        JobRecord? existing;
        await using (var read = c.CreateCommand())
        {
            read.Transaction = tx;
            read.CommandText = $"SELECT {JobColumns} FROM jobs WHERE id=@id";
            Add(read, "@id", job.Id);
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
            write.Transaction = tx;
            write.CommandText = $"""
                INSERT INTO jobs ({JobColumns}, updated_at) VALUES (@id, @run, @repo, @name, @labels, @status, @pool, @scope, @runner, @conclusion, @queued, @started, @completed, @refusal, @now)
                ON CONFLICT(id) DO UPDATE SET status=excluded.status, pool=excluded.pool, scope=excluded.scope, runner_name=excluded.runner_name,
                  conclusion=excluded.conclusion, queued_at=excluded.queued_at, started_at=excluded.started_at, completed_at=excluded.completed_at, refusal=excluded.refusal, updated_at=excluded.updated_at
                """;
            Add(write, "@id", merged.Id);
            Add(write, "@run", merged.RunId);
            Add(write, "@repo", merged.Repository);
            Add(write, "@name", (object?)merged.Name ?? DBNull.Value);
            Add(write, "@labels", string.Join('\n', merged.Labels));
            Add(write, "@status", (int)merged.Status);
            Add(write, "@pool", (object?)merged.Pool ?? DBNull.Value);
            Add(write, "@scope", (object?)merged.Scope ?? DBNull.Value);
            Add(write, "@runner", (object?)merged.RunnerName ?? DBNull.Value);
            Add(write, "@conclusion", (object?)merged.Conclusion ?? DBNull.Value);
            Add(write, "@queued", Ms(merged.QueuedAt));
            Add(write, "@started", Ms(merged.StartedAt));
            Add(write, "@completed", Ms(merged.CompletedAt));
            Add(write, "@refusal", (object?)merged.Refusal ?? DBNull.Value);
            Add(write, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
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
        Add(cmd, "@s", (int)(status ?? 0));
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
        Add(cmd, "@name", runnerName);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await reader.ReadAsync(ct).ConfigureAwait(false) ? ReadJob(reader) : null;
    }

    public async Task<IReadOnlyList<RunnerEvent>> ListEventsAsync(string runnerId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT seq, at, runner_id, runner_name, from_state, to_state, detail FROM runner_events WHERE runner_id=@id ORDER BY seq";
        Add(cmd, "@id", runnerId);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<RunnerEvent>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            list.Add(new RunnerEvent(reader.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : Enum.Parse<RunnerState>(reader.GetString(4)), Enum.Parse<RunnerState>(reader.GetString(5)), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return list;
    }

    public async Task HeartbeatAsync(string nodeId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "INSERT INTO controller_nodes(id, seen_at) VALUES (@id, @now) ON CONFLICT(id) DO UPDATE SET seen_at=excluded.seen_at";
        Add(cmd, "@id", nodeId);
        Add(cmd, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlySet<string>> ListLiveNodesAsync(DateTimeOffset seenSince, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using (var prune = c.CreateCommand())
        {
            prune.CommandText = "DELETE FROM controller_nodes WHERE seen_at < @old";
            Add(prune, "@old", seenSince.AddDays(-1).ToUnixTimeMilliseconds());
            await prune.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id FROM controller_nodes WHERE seen_at >= @since";
        Add(cmd, "@since", seenSince.ToUnixTimeMilliseconds());
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var nodes = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            nodes.Add(reader.GetString(0));
        }

        return nodes;
    }

    public async Task SetPoolDrainedAsync(string pool, bool drained, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = drained
            ? "INSERT INTO pool_drains(pool, at) VALUES (@pool, @now) ON CONFLICT(pool) DO NOTHING"
            : "DELETE FROM pool_drains WHERE pool=@pool";
        Add(cmd, "@pool", pool.ToLowerInvariant());
        Add(cmd, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlySet<string>> ListDrainedPoolsAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT pool FROM pool_drains";
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var pools = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            pools.Add(reader.GetString(0));
        }

        return pools;
    }

    public async Task<int> PruneAsync(DateTimeOffset before, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
        var deleted = 0;
        foreach (var sql in new[]
        {
            "DELETE FROM runner_events WHERE runner_id IN (SELECT id FROM runners WHERE state IN ('Gone', 'Failed') AND updated_at < @before)",
            "DELETE FROM runners WHERE state IN ('Gone', 'Failed') AND updated_at < @before",
            $"DELETE FROM jobs WHERE status = {(int)JobStatus.Completed} AND updated_at < @before",
            $"DELETE FROM scale_set_jobs WHERE state = {(int)ScaleSetJobState.Completed} AND updated_at < @before",
        })
        {
            await using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            Add(cmd, "@before", before.ToUnixTimeMilliseconds());
            deleted += await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        return deleted;
    }

    private const string ScaleSetJobColumns = "job_id, pool, repository, name, state, runner_name, result, assignments, queued_at, started_at, completed_at";

    public async Task<ScaleSetJob?> ApplyScaleSetJobAsync(ScaleSetJob seen, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(JobIsolation, ct).ConfigureAwait(false);
        ScaleSetJob? known = null;
        await using (var read = c.CreateCommand())
        {
            read.Transaction = tx;
            read.CommandText = $"SELECT {ScaleSetJobColumns} FROM scale_set_jobs WHERE job_id=@id";
            Add(read, "@id", seen.JobId);
            await using var reader = await read.ExecuteReaderAsync(ct).ConfigureAwait(false);
            if (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                known = ReadScaleSetJob(reader);
            }
        }

        if (ScaleSetJob.Apply(known, seen) is not { } merged)
        {
            return null;
        }

        await using (var write = c.CreateCommand())
        {
            write.Transaction = tx;
            write.CommandText = $"""
                INSERT INTO scale_set_jobs({ScaleSetJobColumns}, updated_at) VALUES (@id, @pool, @repo, @name, @state, @runner, @result, @assignments, @queued, @started, @completed, @now)
                ON CONFLICT(job_id) DO UPDATE SET name=excluded.name, state=excluded.state, runner_name=excluded.runner_name, result=excluded.result,
                    assignments=excluded.assignments, queued_at=excluded.queued_at, started_at=excluded.started_at, completed_at=excluded.completed_at, updated_at=excluded.updated_at
                """;
            Add(write, "@id", merged.JobId);
            Add(write, "@pool", merged.Pool);
            Add(write, "@repo", merged.Repository);
            Add(write, "@name", merged.Name);
            Add(write, "@state", (int)merged.State);
            Add(write, "@runner", merged.RunnerName);
            Add(write, "@result", merged.Result);
            Add(write, "@assignments", merged.Assignments);
            Add(write, "@queued", Ms(merged.QueuedAt));
            Add(write, "@started", Ms(merged.StartedAt));
            Add(write, "@completed", Ms(merged.CompletedAt));
            Add(write, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
            await write.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        return merged;
    }

    public async Task<IReadOnlyList<ScaleSetJob>> ListScaleSetJobsAsync(int limit, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {ScaleSetJobColumns} FROM scale_set_jobs ORDER BY updated_at DESC LIMIT @limit";
        Add(cmd, "@limit", limit);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var jobs = new List<ScaleSetJob>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            jobs.Add(ReadScaleSetJob(reader));
        }

        return jobs;
    }

    public async Task SetPoolTargetAsync(PoolTarget target, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = """
            INSERT INTO pool_targets(pool, assigned, desired, at) VALUES (@pool, @assigned, @desired, @at)
            ON CONFLICT(pool) DO UPDATE SET assigned=excluded.assigned, desired=excluded.desired, at=excluded.at
            """;
        Add(cmd, "@pool", target.Pool.ToLowerInvariant());
        Add(cmd, "@assigned", target.AssignedJobs);
        Add(cmd, "@desired", target.Desired);
        Add(cmd, "@at", target.At.ToUnixTimeMilliseconds());
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<string, PoolTarget>> ListPoolTargetsAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT pool, assigned, desired, at FROM pool_targets";
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var targets = new Dictionary<string, PoolTarget>(StringComparer.OrdinalIgnoreCase);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var t = new PoolTarget(reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)));
            targets[t.Pool] = t;
        }

        return targets;
    }

    private static ScaleSetJob ReadScaleSetJob(DbDataReader reader) => new()
    {
        JobId = reader.GetString(0),
        Pool = reader.GetString(1),
        Repository = reader.GetString(2),
        Name = reader.IsDBNull(3) ? null : reader.GetString(3),
        State = (ScaleSetJobState)reader.GetInt32(4),
        RunnerName = reader.IsDBNull(5) ? null : reader.GetString(5),
        Result = reader.IsDBNull(6) ? null : reader.GetString(6),
        Assignments = reader.GetInt32(7),
        QueuedAt = Time(reader, 8),
        StartedAt = Time(reader, 9),
        CompletedAt = Time(reader, 10),
    };

    // ---------------------------------------------------------------- helpers

        protected static async Task ExecAsync(DbConnection c, string sql, CancellationToken ct, DbTransaction? tx = null)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private async Task AppendEventAsync(DbConnection c, DbTransaction tx, RunnerRecord r, RunnerState? from, string? detail, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO runner_events (at, runner_id, runner_name, from_state, to_state, detail) VALUES (@at, @id, @name, @from, @to, @detail)";
        Add(cmd, "@at", time.GetUtcNow().ToUnixTimeMilliseconds());
        Add(cmd, "@id", r.Id);
        Add(cmd, "@name", r.Name);
        Add(cmd, "@from", (object?)from?.ToString() ?? DBNull.Value);
        Add(cmd, "@to", r.State.ToString());
        Add(cmd, "@detail", (object?)detail ?? DBNull.Value);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private void BindRunner(DbCommand cmd, RunnerRecord r)
    {
        Add(cmd, "@id", r.Id);
        Add(cmd, "@name", r.Name);
        Add(cmd, "@pool", r.Pool);
        Add(cmd, "@provider", r.Provider);
        Add(cmd, "@scope", r.Scope);
        Add(cmd, "@state", r.State.ToString());
        Add(cmd, "@rid", (object?)r.ProviderResourceId ?? DBNull.Value);
        Add(cmd, "@endpoint", (object?)r.ProviderEndpoint ?? DBNull.Value);
        Add(cmd, "@ghid", (object?)r.GitHubRunnerId ?? DBNull.Value);
        Add(cmd, "@job", (object?)r.JobId ?? DBNull.Value);
        Add(cmd, "@requested", r.RequestedAt.ToUnixTimeMilliseconds());
        Add(cmd, "@created", Ms(r.CreatedAt));
        Add(cmd, "@online", Ms(r.OnlineAt));
        Add(cmd, "@busy", Ms(r.BusyAt));
        Add(cmd, "@completed", Ms(r.CompletedAt));
        Add(cmd, "@destroyed", Ms(r.DestroyedAt));
        Add(cmd, "@reason", (object?)r.FailureReason ?? DBNull.Value);
        Add(cmd, "@cost", r.Cost.ToString(CultureInfo.InvariantCulture));
        Add(cmd, "@hourly", (object?)r.HourlyPrice?.ToString(CultureInfo.InvariantCulture) ?? DBNull.Value);
        Add(cmd, "@billed", Ms(r.BilledSince));
        Add(cmd, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
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
            Add(cmd, "@v", value);
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
                Owner = reader.IsDBNull(20) ? null : reader.GetString(20),
                BilledSince = Time(reader, 21),
                PreviousRunner = reader.IsDBNull(22) ? null : reader.GetString(22),
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

    protected static void Add(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        cmd.Parameters.Add(p);
    }

    private static DateTimeOffset? Time(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(i));

    private static object Ms(DateTimeOffset? t) => t is { } v ? v.ToUnixTimeMilliseconds() : DBNull.Value;
}
