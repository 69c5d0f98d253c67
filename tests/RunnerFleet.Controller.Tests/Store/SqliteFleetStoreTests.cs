using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Tests.Store;

public sealed class SqliteFleetStoreTests : FleetStoreContractTests
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"rf-store-{Guid.NewGuid():N}.db");

    protected override int ExpectedSchemaVersion => SqliteFleetStore.Schema.Length;

    private protected override Task<IFleetStore> CreateStoreAsync() => Task.FromResult<IFleetStore>(new SqliteFleetStore($"Data Source={_path}", _time));

    protected override async Task<(int Rows, int Highest)> SchemaVersionsAsync()
    {
        await using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_path}");
        await c.OpenAsync(TestContext.Current.CancellationToken);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*), MAX(version) FROM schema_version";
        await using var reader = await cmd.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        await reader.ReadAsync(TestContext.Current.CancellationToken);
        return (reader.GetInt32(0), reader.GetInt32(1));
    }

    [Fact]
    [Trait("Category", "Security")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void The_database_file_is_the_controllers_alone()
    {
        // Before: created with the process umask (0644 typically): any local user could read the fleet's records.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_path));
    }

    public override ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(f);
        }

        return ValueTask.CompletedTask;
    }
}
