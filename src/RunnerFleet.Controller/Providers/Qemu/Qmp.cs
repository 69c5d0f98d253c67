using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace RunnerFleet.Controller.Providers.Qemu;

/// <summary>
/// The few QEMU Machine Protocol exchanges the provider needs, over the VM's unix socket (docs: qemu.org, "QEMU QMP
/// Reference Manual"): the greeting, <c>qmp_capabilities</c>, then one command and its answer (events are skipped).
/// </summary>
internal static class Qmp
{
    public static async Task ExecuteAsync(string socketPath, string command, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        await ReadAsync(reader, "QMP", ct).ConfigureAwait(false);
        await writer.WriteLineAsync("{\"execute\":\"qmp_capabilities\"}").ConfigureAwait(false);
        await ReadAsync(reader, "return", ct).ConfigureAwait(false);
        await writer.WriteLineAsync($"{{\"execute\":\"{command}\"}}").ConfigureAwait(false);
        await ReadAsync(reader, "return", ct).ConfigureAwait(false);
    }

    private static async Task ReadAsync(StreamReader reader, string expected, CancellationToken ct)
    {
        while (true)
        {
            var line = await reader.ReadLineAsync(ct).ConfigureAwait(false) ?? throw new IOException("the QEMU monitor closed the connection");
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("error", out var error))
            {
                throw new IOException($"the QEMU monitor refused: {error}");
            }

            if (doc.RootElement.TryGetProperty(expected, out _))
            {
                return;
            }
        }
    }
}
