using Npgsql;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Tests.Store;

/// <summary>
/// The same contract on a real PostgreSQL (scripts/test.sh starts Debian's PostgreSQL 15 and sets
/// <c>RUNNERFLEET_TEST_POSTGRES</c>); each test gets a schema of its own.
/// </summary>
[Trait("Category", "Postgres")]
public sealed class PostgresFleetStoreTests : FleetStoreContractTests
{
    public const string Variable = "RUNNERFLEET_TEST_POSTGRES";
    private readonly string _schema = $"t_{Guid.NewGuid():N}";
    private PostgresFleetStore? _store;

    protected override int ExpectedSchemaVersion => PostgresFleetStore.Schema.Length;

    private static string Admin() => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } cs
        ? cs
        : throw new InvalidOperationException($"{Variable} is not set: run the tests with scripts/test.sh, which starts PostgreSQL");

    private protected override async Task<IFleetStore> CreateStoreAsync()
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 })
        {
            Assert.Skip($"{Variable} is not set (scripts/test.sh sets it after starting PostgreSQL)");
        }

        await ExecAsync($"CREATE SCHEMA {_schema}");
        _store = new PostgresFleetStore(new NpgsqlConnectionStringBuilder(Admin()) { SearchPath = _schema }.ConnectionString, _time);
        return _store;
    }

    protected override async Task<(int Rows, int Highest)> SchemaVersionsAsync()
    {
        await using var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Admin()) { SearchPath = _schema }.ConnectionString);
        await c.OpenAsync(TestContext.Current.CancellationToken);
        await using var cmd = new NpgsqlCommand("SELECT COUNT(*)::int, MAX(version) FROM schema_version", c);
        await using var reader = await cmd.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        await reader.ReadAsync(TestContext.Current.CancellationToken);
        return (reader.GetInt32(0), reader.GetInt32(1));
    }

    [Fact]
    public async Task Controllers_starting_together_on_an_empty_database_all_create_the_schema_once()
    {
        // Two controllers of a cluster starting at once raced on CREATE TABLE IF NOT EXISTS (pg_type's unique index)
        // while the lock that was meant to order them was already released: one of them stopped at start.
        var schema = $"t_{Guid.NewGuid():N}";
        await ExecAsync($"CREATE SCHEMA {schema}");
        try
        {
            for (var round = 0; round < 5; round++)
            {
                await ExecAsync($"DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema}");
                var stores = Enumerable.Range(0, 6).Select(_ => new PostgresFleetStore(new NpgsqlConnectionStringBuilder(Admin()) { SearchPath = schema }.ConnectionString, _time)).ToList();
                try
                {
                    await Task.WhenAll(stores.Select(s => Task.Run(() => s.InitializeAsync(TestContext.Current.CancellationToken), TestContext.Current.CancellationToken)));
                }
                finally
                {
                    stores.ForEach(s => s.Dispose());
                }

                await using var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Admin()) { SearchPath = schema }.ConnectionString);
                await c.OpenAsync(TestContext.Current.CancellationToken);
                await using var cmd = new NpgsqlCommand("SELECT COUNT(*)::int FROM schema_version", c);
                Assert.Equal(ExpectedSchemaVersion, (int)(await cmd.ExecuteScalarAsync(TestContext.Current.CancellationToken))!);
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecAsync($"DROP SCHEMA IF EXISTS {schema} CASCADE");
        }
    }

    public override async ValueTask DisposeAsync()
    {
        _store?.Dispose();
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 })
        {
            NpgsqlConnection.ClearAllPools();
            await ExecAsync($"DROP SCHEMA IF EXISTS {_schema} CASCADE");
        }
    }

    private static async Task ExecAsync(string sql)
    {
        await using var c = new NpgsqlConnection(Admin());
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }
}
