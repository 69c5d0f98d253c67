using System.Text;
using RunnerFleet.Controller.Channels.Rest;
using RunnerFleet.Controller.GitHub;

namespace RunnerFleet.Controller.Tests.Channels;

/// <summary>The webhook body is hashed while it streams in, into a buffer that stops at the cap.</summary>
[Trait("Category", "Security")]
public sealed class WebhookBodyTests
{
    private const string Secret = "a-webhook-secret-of-at-least-32-characters";

    /// <summary>A body that arrives a few bytes at a time, with no length known (chunked transfer).</summary>
    private sealed class Trickle(byte[] data, int chunk) : Stream
    {
        private int _at;

        public int Delivered => _at;

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(chunk, count), data.Length - _at);
            Array.Copy(data, _at, buffer, offset, n);
            _at += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _at; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task The_streamed_hash_is_the_bodys_signature()
    {
        var body = Encoding.UTF8.GetBytes("{\"action\":\"queued\",\"workflow_job\":{\"id\":1}}" + new string(' ', 40_000));

        var (read, mac) = await WebhookEndpoint.ReadSignedBodyAsync(new Trickle(body, 7), contentLength: null, Secret, TestContext.Current.CancellationToken);

        Assert.Equal(body, read.ToArray());
        Assert.True(WebhookSignature.Matches(mac, WebhookSignature.Sign(Secret, body)));
        Assert.False(WebhookSignature.Matches(mac, WebhookSignature.Sign(Secret + "x", body)));
    }

    [Fact]
    public async Task A_body_without_a_length_stops_one_byte_past_the_cap()
    {
        var stream = new Trickle(new byte[3 * 1024 * 1024], 64 * 1024);

        var (read, _) = await WebhookEndpoint.ReadSignedBodyAsync(stream, contentLength: null, Secret, TestContext.Current.CancellationToken);

        // The endpoint answers 413 for anything past the cap; the rest of the body is never read.
        Assert.Equal(WebhookEndpoint.MaxWebhookBytes + 1, read.Length);
        Assert.True(stream.Delivered < 2 * 1024 * 1024);
    }
}
