using System.Data;
using System.Data.Common;
using Npgsql;

namespace RunnerFleet.Controller.Store;

/// <summary>
/// The shared store: PostgreSQL, for several controllers on one fleet. The same rows as SQLite; migrations
/// and job upserts are serialized with advisory locks, so two controllers never migrate at once and never
/// merge the same job from stale reads.
/// </summary>
internal sealed class PostgresFleetStore(string connectionString, TimeProvider time) : SqlFleetStore(time), IDisposable
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
        // Quartz.NET's clustered job store (its PostgreSQL schema), so several controllers share the loops.
        """
        CREATE TABLE qrtz_job_details (
            sched_name TEXT NOT NULL, job_name TEXT NOT NULL, job_group TEXT NOT NULL, description TEXT,
            job_class_name TEXT NOT NULL, is_durable BOOL NOT NULL, is_nonconcurrent BOOL NOT NULL,
            is_update_data BOOL NOT NULL, requests_recovery BOOL NOT NULL, job_data BYTEA,
            PRIMARY KEY (sched_name, job_name, job_group));
        CREATE TABLE qrtz_triggers (
            sched_name TEXT NOT NULL, trigger_name TEXT NOT NULL, trigger_group TEXT NOT NULL,
            job_name TEXT NOT NULL, job_group TEXT NOT NULL, description TEXT,
            next_fire_time BIGINT, prev_fire_time BIGINT, priority INTEGER, trigger_state TEXT NOT NULL,
            trigger_type TEXT NOT NULL, start_time BIGINT NOT NULL, end_time BIGINT, calendar_name TEXT,
            misfire_instr SMALLINT, misfire_orig_fire_time BIGINT, execution_group VARCHAR(200),
            preferred_node VARCHAR(200), preferred_node_auto BOOL NOT NULL DEFAULT FALSE, job_data BYTEA,
            PRIMARY KEY (sched_name, trigger_name, trigger_group),
            FOREIGN KEY (sched_name, job_name, job_group) REFERENCES qrtz_job_details (sched_name, job_name, job_group));
        CREATE TABLE qrtz_simple_triggers (
            sched_name TEXT NOT NULL, trigger_name TEXT NOT NULL, trigger_group TEXT NOT NULL,
            repeat_count BIGINT NOT NULL, repeat_interval BIGINT NOT NULL, times_triggered BIGINT NOT NULL,
            PRIMARY KEY (sched_name, trigger_name, trigger_group),
            FOREIGN KEY (sched_name, trigger_name, trigger_group) REFERENCES qrtz_triggers (sched_name, trigger_name, trigger_group) ON DELETE CASCADE);
        CREATE TABLE qrtz_simprop_triggers (
            sched_name TEXT NOT NULL, trigger_name TEXT NOT NULL, trigger_group TEXT NOT NULL,
            str_prop_1 TEXT, str_prop_2 TEXT, str_prop_3 TEXT, int_prop_1 INTEGER, int_prop_2 INTEGER,
            long_prop_1 BIGINT, long_prop_2 BIGINT, dec_prop_1 NUMERIC, dec_prop_2 NUMERIC,
            bool_prop_1 BOOL, bool_prop_2 BOOL, time_zone_id TEXT,
            PRIMARY KEY (sched_name, trigger_name, trigger_group),
            FOREIGN KEY (sched_name, trigger_name, trigger_group) REFERENCES qrtz_triggers (sched_name, trigger_name, trigger_group) ON DELETE CASCADE);
        CREATE TABLE qrtz_cron_triggers (
            sched_name TEXT NOT NULL, trigger_name TEXT NOT NULL, trigger_group TEXT NOT NULL,
            cron_expression TEXT NOT NULL, time_zone_id TEXT,
            PRIMARY KEY (sched_name, trigger_name, trigger_group),
            FOREIGN KEY (sched_name, trigger_name, trigger_group) REFERENCES qrtz_triggers (sched_name, trigger_name, trigger_group) ON DELETE CASCADE);
        CREATE TABLE qrtz_blob_triggers (
            sched_name TEXT NOT NULL, trigger_name TEXT NOT NULL, trigger_group TEXT NOT NULL, blob_data BYTEA,
            PRIMARY KEY (sched_name, trigger_name, trigger_group),
            FOREIGN KEY (sched_name, trigger_name, trigger_group) REFERENCES qrtz_triggers (sched_name, trigger_name, trigger_group) ON DELETE CASCADE);
        CREATE TABLE qrtz_calendars (sched_name TEXT NOT NULL, calendar_name TEXT NOT NULL, calendar BYTEA NOT NULL, PRIMARY KEY (sched_name, calendar_name));
        CREATE TABLE qrtz_paused_trigger_grps (sched_name TEXT NOT NULL, trigger_group TEXT NOT NULL, PRIMARY KEY (sched_name, trigger_group));
        CREATE TABLE qrtz_fired_triggers (
            sched_name TEXT NOT NULL, entry_id TEXT NOT NULL, trigger_name TEXT NOT NULL, trigger_group TEXT NOT NULL,
            instance_name TEXT NOT NULL, fired_time BIGINT NOT NULL, sched_time BIGINT NOT NULL, priority INTEGER NOT NULL,
            state TEXT NOT NULL, job_name TEXT, job_group TEXT, is_nonconcurrent BOOL NOT NULL, requests_recovery BOOL,
            execution_group VARCHAR(200), PRIMARY KEY (sched_name, entry_id));
        CREATE TABLE qrtz_scheduler_state (
            sched_name TEXT NOT NULL, instance_name TEXT NOT NULL, last_checkin_time BIGINT NOT NULL, checkin_interval BIGINT NOT NULL,
            PRIMARY KEY (sched_name, instance_name));
        CREATE TABLE qrtz_locks (sched_name TEXT NOT NULL, lock_name TEXT NOT NULL, PRIMARY KEY (sched_name, lock_name));
        CREATE INDEX ix_qrtz_t_next_fire_time ON qrtz_triggers (sched_name, next_fire_time);
        CREATE INDEX ix_qrtz_t_nft_st ON qrtz_triggers (sched_name, trigger_state, next_fire_time);
        CREATE INDEX ix_qrtz_ft_inst ON qrtz_fired_triggers (sched_name, instance_name);
        CREATE INDEX ix_qrtz_ft_job ON qrtz_fired_triggers (sched_name, job_name, job_group);
        CREATE TABLE pool_drains (pool TEXT PRIMARY KEY, at BIGINT NOT NULL);
        """,
        """
        ALTER TABLE runners ADD COLUMN owner TEXT;
        CREATE TABLE controller_nodes (id TEXT PRIMARY KEY, seen_at BIGINT NOT NULL);
        """,
        // Quartz 4 keeps more in its tables than Quartz 3 did and provisions its own schema at start
        // (SchedulingExtensions: ProvisionSchema). Its tables hold only the loops' triggers, which every
        // controller adds again at start, so the Quartz 3 tables go rather than being altered column by column.
        """
        DROP TABLE IF EXISTS qrtz_fired_triggers, qrtz_paused_trigger_grps, qrtz_scheduler_state, qrtz_locks,
            qrtz_simple_triggers, qrtz_cron_triggers, qrtz_simprop_triggers, qrtz_blob_triggers, qrtz_triggers,
            qrtz_job_details, qrtz_calendars CASCADE;
        """,
        """
        CREATE TABLE scale_set_jobs (job_id TEXT PRIMARY KEY, pool TEXT NOT NULL, repository TEXT NOT NULL, name TEXT, state INTEGER NOT NULL,
            runner_name TEXT, result TEXT, assignments INTEGER NOT NULL, queued_at BIGINT, started_at BIGINT, completed_at BIGINT, updated_at BIGINT NOT NULL);
        CREATE INDEX ix_scale_set_jobs_updated ON scale_set_jobs(updated_at);
        CREATE TABLE pool_targets (pool TEXT PRIMARY KEY, assigned INTEGER NOT NULL, desired INTEGER NOT NULL, at BIGINT NOT NULL);
        """,
        // The planner's view of the live runners reads only what changed since its last read (ActiveRunnerView).
        """
        CREATE INDEX ix_runners_updated ON runners(updated_at);
        """,
        // Machines billed by the hour: when billing began (Hetzner bills each started hour), and the runner whose machine
        // was rebuilt for this one within its paid hour.
        """
        ALTER TABLE runners ADD COLUMN billed_since BIGINT;
        ALTER TABLE runners ADD COLUMN previous_runner TEXT;
        """,
    ];

    // Advisory lock keys: (class, object) pairs never collide with the single-key job locks.
    private const string SchemaLock = "1381, 1";

    private readonly NpgsqlDataSource _source = NpgsqlDataSource.Create(connectionString);

    protected override IReadOnlyList<string> Migrations => Schema;

    protected override string PrepareSql =>
        // A transaction-scoped lock (the caller runs this in a transaction): a session lock released before the
        // CREATE commits lets a second controller's CREATE TABLE IF NOT EXISTS race the first one's on pg_type
        // ("duplicate key value violates unique constraint pg_type_typname_nsp_index", PostgreSQL's known race for
        // concurrent IF NOT EXISTS), which stopped a controller of the cluster test at start.
        $"SELECT pg_advisory_xact_lock({SchemaLock}); CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);";

    protected override bool PrepareInTransaction => true;

    protected override string MigrationLockSql => $"SELECT pg_advisory_xact_lock({SchemaLock})";

    protected override string JobLockSql => "SELECT pg_advisory_xact_lock(@id)";

    protected override IsolationLevel JobIsolation => IsolationLevel.ReadCommitted;

    protected override async Task<DbConnection> OpenAsync(CancellationToken ct) => await _source.OpenConnectionAsync(ct).ConfigureAwait(false);

    public void Dispose() => _source.Dispose();
}
