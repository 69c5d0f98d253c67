using System.Text.Json;
using Quartz;
using Quartz.Spi;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>
/// Quartz's job-data serializer for the clustered ADO.NET store. RunnerFleet's loops carry no job data,
/// and Quartz 3 offers only BinaryFormatter (gone from .NET 9+) or a Newtonsoft package; so job data maps
/// are stored as JSON objects of strings, which is all a loop could ever need.
/// </summary>
public sealed class QuartzJsonSerializer : IObjectSerializer
{
    public void Initialize()
    {
    }

    public byte[] Serialize<T>(T obj) where T : class => obj switch
    {
        JobDataMap map => JsonSerializer.SerializeToUtf8Bytes(map.ToDictionary(kv => kv.Key, kv => Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture))),
        _ => throw new NotSupportedException($"RunnerFleet stores only job data maps in Quartz, not {typeof(T).Name}"),
    };

    public T? DeSerialize<T>(byte[] data) where T : class
    {
        if (typeof(T) != typeof(JobDataMap))
        {
            throw new NotSupportedException($"RunnerFleet stores only job data maps in Quartz, not {typeof(T).Name}");
        }

        var values = JsonSerializer.Deserialize<Dictionary<string, string?>>(data) ?? [];
        var map = new JobDataMap();
        foreach (var (key, value) in values)
        {
            map[key] = value!;
        }

        return (T)(object)map;
    }
}
