using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Hosting;

if (args.Contains("--sandbox"))
{
    // The production service carries no simulators: the sandbox is a host of its own that embeds this controller.
    Console.Error.WriteLine("RunnerFleet's sandbox mode is its own project: dotnet run --project src/RunnerFleet.Sandbox");
    return 2;
}

try
{
    await using var app = ControllerHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException e)
{
    return ConfigurationError(e.Failures);
}
catch (InvalidOperationException e) when (e.Message.Contains("configuration", StringComparison.OrdinalIgnoreCase))
{
    return ConfigurationError([e.Message]);
}

static int ConfigurationError(IEnumerable<string> failures)
{
    Console.Error.WriteLine("RunnerFleet cannot start: the configuration is invalid.");
    foreach (var failure in failures)
    {
        Console.Error.WriteLine($"  - {failure}");
    }

    Console.Error.WriteLine("See README.md, 'Configuration', for every key.");
    return 2;
}

/// <summary>The entry point; public for the integration tests.</summary>
public partial class Program;
