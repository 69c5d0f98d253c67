using System.Text;
using RunnerFleet.Controller.GitHub;

namespace RunnerFleet.Controller.Tests.GitHub;

public sealed class WebhookSignatureTests
{
    // The example from GitHub's "Validating webhook deliveries" page.
    private const string Secret = "It's a Secret to Everybody";
    private const string Payload = "Hello, World!";
    private const string Expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    [Fact]
    public void Accepts_githubs_documented_example() =>
        Assert.True(WebhookSignature.IsValid(Secret, Encoding.UTF8.GetBytes(Payload), Expected));

    [Fact]
    public void Signs_like_github() => Assert.Equal(Expected, WebhookSignature.Sign(Secret, Encoding.UTF8.GetBytes(Payload)));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")]
    [InlineData("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18")]
    [InlineData("sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E1")]
    [InlineData("sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")]
    [InlineData("sha256=")]
    public void Refuses_missing_malformed_or_wrong_signatures(string? header) =>
        Assert.False(WebhookSignature.IsValid(Secret, Encoding.UTF8.GetBytes(Payload), header));

    [Fact]
    public void Refuses_a_body_changed_after_signing() =>
        Assert.False(WebhookSignature.IsValid(Secret, Encoding.UTF8.GetBytes(Payload + " "), Expected));

    [Fact]
    public void Refuses_everything_without_a_secret() =>
        Assert.False(WebhookSignature.IsValid(string.Empty, Encoding.UTF8.GetBytes(Payload), WebhookSignature.Sign(string.Empty, Encoding.UTF8.GetBytes(Payload))));
}
